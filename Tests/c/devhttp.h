/* GET from the dev server's inspection API (HIMETRICA_DEV_URL + path) with libcurl, for the
 * C tests that check what arrived. */
#ifndef HIMETRICA_TEST_DEVHTTP_H
#define HIMETRICA_TEST_DEVHTTP_H

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct dev_buffer { char *data; size_t size; };

static size_t dev_collect(char *data, size_t size, size_t count, void *user) {
    struct dev_buffer *b = user;
    size_t n = size * count;
    char *grown = realloc(b->data, b->size + n + 1);
    if (!grown) return 0;
    b->data = grown;
    memcpy(b->data + b->size, data, n);
    b->size += n;
    b->data[b->size] = 0;
    return n;
}

/* The answer to GET (or, for /_dev/reset, POST) `dev_url` + `path`, NUL-terminated; free() it. */
static char *dev_get(const char *dev_url, const char *path) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", dev_url, path);
    CURL *curl = curl_easy_init();
    struct dev_buffer b = {calloc(1, 1), 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, dev_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    if (strcmp(path, "/_dev/reset") == 0) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    return b.data;
}

/* How many times `needle` occurs in `haystack`. */
static int occurrences(const char *haystack, const char *needle) {
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

#endif
