/* fork(): a child process gets a working client that does not resend the parent's queue.
 * Run against a dev server with added latency so the parent still holds events when it
 * forks (scripts/with-devserver.sh --latency-ms 20 -- ./test_fork). */
#include "himetrica.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PARENT_EVENTS = 60, CHILD_EVENTS = 25 };

static size_t collect(char *data, size_t size, size_t count, void *user) {
    char **text = user;
    size_t old = *text ? strlen(*text) : 0, n = size * count;
    *text = realloc(*text, old + n + 1);
    memcpy(*text + old, data, n);
    (*text)[old + n] = 0;
    return n;
}

static char *events(const char *dev_url) {
    char url[512], *text = NULL;
    snprintf(url, sizeof url, "%s/_dev/events", dev_url);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
    curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    return text;
}

static int occurrences(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void track_numbered(hm_client *client, const char *who, int count) {
    for (int i = 0; i < count; i++) {
        char props[64];
        snprintf(props, sizeof props, "{\"tag\":\"%s-%d-\"}", who, i);
        if (hm_track(client, "forked", NULL, NULL, who, props, NULL, NULL) != HM_OK) {
            fprintf(stderr, "track failed: %s\n", hm_last_error());
        }
    }
}

int main(void) {
    const char *dev_url = getenv("HIMETRICA_DEV_URL");
    if (!dev_url) return 2;
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", getenv("HIMETRICA_ENDPOINT"));
    hm_config_set(config, "max_in_flight", "2");
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) return 2;
    hm_config_free(config);

    track_numbered(client, "parent", PARENT_EVENTS);
    uint64_t queued_at_fork = 0;
    hm_stats_get(client, HM_STAT_QUEUE_DEPTH, &queued_at_fork);

    pid_t pid = fork();
    if (pid == 0) {
        uint64_t inherited = 99;
        hm_stats_get(client, HM_STAT_QUEUE_DEPTH, &inherited);
        track_numbered(client, "child", CHILD_EVENTS);
        uint64_t pending = 99;
        hm_status status = hm_flush(client, 10000, &pending);
        hm_client_free(client);
        _exit(status == HM_OK && pending == 0 && inherited == 0 ? 0 : 1);
    }
    int child_status = 0;
    waitpid(pid, &child_status, 0);
    uint64_t pending = 99;
    hm_status status = hm_flush(client, 10000, &pending);
    hm_client_free(client);

    char *text = events(dev_url);
    int passed = 0, failed = 0;
#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; fprintf(stderr, "FAIL: " __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)
    CHECK(queued_at_fork > 0, "the parent still held events when it forked (%llu)", (unsigned long long)queued_at_fork);
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0,
          "the child started with an empty queue, tracked and flushed");
    CHECK(status == HM_OK && pending == 0, "the parent flushed");
    for (int i = 0; i < PARENT_EVENTS; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "\"parent-%d-\"", i);
        CHECK(occurrences(text, tag) == 1, "parent event %d arrived %d times", i, occurrences(text, tag));
    }
    for (int i = 0; i < CHILD_EVENTS; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "\"child-%d-\"", i);
        CHECK(occurrences(text, tag) == 1, "child event %d arrived %d times", i, occurrences(text, tag));
    }
    free(text);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
