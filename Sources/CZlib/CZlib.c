#include "CZlib.h"

int cn_deflate_init_gzip(z_stream *stream, int level) {
    // windowBits 15 + 16: a gzip wrapper instead of zlib's.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
int cn_inflate_init_gzip(z_stream *stream) {
    // windowBits 15 + 32: accept gzip or zlib, detected from the header.
    return inflateInit2(stream, 15 + 32);
}
