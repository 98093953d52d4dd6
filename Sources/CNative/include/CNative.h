#ifndef C_NATIVE_H
#define C_NATIVE_H
// Typed wrappers over the C libraries' macros and variadic functions, which Swift cannot call directly.
#include <curl/curl.h>
#include <sqlite3.h>
#include <zlib.h>
#include <stdint.h>

// libcurl: curl_easy_setopt / curl_easy_getinfo are variadic.
CURLcode cn_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode cn_curl_setopt_ptr(CURL *handle, CURLoption option, void *value);
CURLcode cn_curl_setopt_str(CURL *handle, CURLoption option, const char *value);
CURLcode cn_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode cn_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode cn_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode cn_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
/// Installs a read callback (request body) and its context in one call.
CURLcode cn_curl_set_read_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *context);
/// Installs a write callback (response body) and its context in one call.
CURLcode cn_curl_set_write_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *context);
/// Installs a header callback and its context in one call.
CURLcode cn_curl_set_header_callback(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *context);
/// The value a read callback returns to pause or abort.
size_t cn_curl_readfunc_abort(void);

// SQLite: SQLITE_TRANSIENT is a cast macro.
int cn_sqlite3_bind_text_transient(sqlite3_stmt *stmt, int index, const char *text, int length);
int cn_sqlite3_bind_blob_transient(sqlite3_stmt *stmt, int index, const void *bytes, int length);

// zlib: deflateInit2 / inflateInit2 are macros.
int cn_deflate_init_gzip(z_stream *stream, int level);
int cn_inflate_init_gzip(z_stream *stream);

// glibc malloc: mallopt's options are macros of <malloc.h>, which Glibc's module does not export.
/// Caps the number of malloc arenas (each thread that allocates may otherwise get one, kept for good).
void cn_malloc_limit_arenas(int arenas);
/// Gives free memory at the top of the heaps back to the system; returns 1 when some was.
int cn_malloc_trim(void);
#endif
