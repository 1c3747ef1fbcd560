/* fork(): a child process gets a working client that does not resend the parent's queue.
 * Run against a dev server with added latency so the parent still holds events when it
 * forks (scripts/with-devserver.sh --latency-ms 20 -- ./test_fork). */
#include "himetrica.h"
#include "check.h"
#include "devhttp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PARENT_EVENTS = 60, CHILD_EVENTS = 25 };

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

    char *text = dev_get(dev_url, "/_dev/events");
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
    return finish();
}
