#ifndef C_CURL_H
#define C_CURL_H
// Typed wrappers over libcurl's variadic functions, which Swift cannot call directly.
#include <curl/curl.h>

// curl_easy_setopt / curl_easy_getinfo are variadic.
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
#endif
