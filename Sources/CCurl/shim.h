// Typed wrappers for libcurl's variadic functions, which Swift cannot call directly.
#ifndef HIMETRICA_CCURL_SHIM_H
#define HIMETRICA_CCURL_SHIM_H

#include <curl/curl.h>

/// The callback type libcurl calls with response body bytes.
typedef size_t (*hm_curl_write_callback)(char *data, size_t size, size_t count, void *user);

static inline CURLcode hm_curl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_setopt_write_callback(CURL *h, CURLoption o, hm_curl_write_callback v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode hm_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode hm_curl_getinfo_pointer(CURL *h, CURLINFO i, void **v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLMcode hm_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return curl_multi_setopt(m, o, v);
}

#endif
