#ifndef C_ZLIB_H
#define C_ZLIB_H
// zlib's header, and functions for its initialisation macros.
#include <zlib.h>

// deflateInit2 / inflateInit2 are macros.
int cn_deflate_init_gzip(z_stream *stream, int level);
int cn_inflate_init_gzip(z_stream *stream);
#endif
