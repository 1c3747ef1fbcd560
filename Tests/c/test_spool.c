/* The spool from C, over real processes: a process that queues 600 tracks and returns from
 * main without flushing loses nothing (a second process delivers the rest within 15 s, each
 * event once, no 429); and a forked child writes through its own connection to the parent's
 * spool, its flush waiting until the parent (the sender) delivered its events.
 * Run against a dev server limited to 100 track requests per 2 s:
 *   scripts/with-devserver.sh --no-limits --limit track=100/2 -- ./test_spool */
#include "himetrica.h"
#include "check.h"
#include "devhttp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_EVENTS = 600, CHILD_EVENTS = 50 };

static hm_client *spool_client(const char *spool) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", getenv("HIMETRICA_ENDPOINT"));
    hm_config_set(config, "spool", spool);
    hm_config_set(config, "rate_limit_track", "100/2");
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) {
        fprintf(stderr, "client: %s\n", hm_last_error());
        exit(2);
    }
    hm_config_free(config);
    return client;
}

static void track_tagged(hm_client *client, const char *who, int from, int count) {
    for (int i = from; i < from + count; i++) {
        char props[64];
        snprintf(props, sizeof props, "{\"tag\":\"%s-%d-\"}", who, i);
        if (hm_track(client, "spooled", NULL, NULL, who, props, NULL, NULL) != HM_OK) {
            fprintf(stderr, "track failed: %s\n", hm_last_error());
        }
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many events tagged `who-N-` for N in [0, count) arrived exactly once. */
static int arrived_once(const char *dev_url, const char *who, int count) {
    char *text = dev_get(dev_url, "/_dev/events");
    int once = 0;
    for (int i = 0; i < count; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"%s-%d-\"", who, i);
        once += occurrences(text, needle) == 1;
    }
    free(text);
    return once;
}

int main(void) {
    const char *dev_url = getenv("HIMETRICA_DEV_URL");
    if (!dev_url) return 2;
    char spool[] = "/tmp/himetrica-c-spool-XXXXXX";
    if (!mkdtemp(spool)) return 2;

    /* 1. Exit without flush: the first process returns from main; its at-exit flush sends what
     * the limit lets out in exit_flush_timeout (2 s) and leaves the rest in the spool. */
    pid_t pid = fork();
    if (pid == 0) {
        hm_client *client = spool_client(spool);
        track_tagged(client, "exit", 0, EXIT_EVENTS);
        exit(0); /* no flush, no shutdown */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the first process exited normally");
    int first = arrived_once(dev_url, "exit", EXIT_EVENTS);
    CHECK(first < EXIT_EVENTS, "the limit held the first process back (%d of %d arrived)", first, EXIT_EVENTS);

    double started = now_seconds();
    hm_client *client = spool_client(spool);
    int arrived = first;
    while (arrived < EXIT_EVENTS && now_seconds() - started < 15) {
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
        arrived = arrived_once(dev_url, "exit", EXIT_EVENTS);
    }
    CHECK(arrived == EXIT_EVENTS, "a second process delivered the rest within 15 s: %d of %d once each (%.1f s)",
          arrived, EXIT_EVENTS, now_seconds() - started);
    char *stats = dev_get(dev_url, "/_dev/stats");
    CHECK(strstr(stats, "\"429\"") == NULL, "no answer 429 (the new sender kept the old window): %s", stats);
    free(stats);
    uint64_t sender = 0;
    hm_stats_get(client, HM_STAT_SENDER, &sender);
    CHECK(sender == 1, "the second process is the sender");

    /* 2. A forked child joins the spool with its own connection; its flush waits for its
     * events, which the parent sends. */
    pid = fork();
    if (pid == 0) {
        track_tagged(client, "child", 0, CHILD_EVENTS);
        uint64_t pending = 99, child_sender = 99, spooled = 0;
        hm_status flushed = hm_flush(client, 15000, &pending);
        hm_stats_get(client, HM_STAT_SENDER, &child_sender);
        hm_stats_get(client, HM_STAT_SPOOLED, &spooled);
        _exit(flushed == HM_OK && pending == 0 && child_sender == 0 && spooled == CHILD_EVENTS ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child wrote to the spool and its flush returned once the parent delivered its events");
    CHECK(arrived_once(dev_url, "child", CHILD_EVENTS) == CHILD_EVENTS, "every child event arrived once");
    hm_shutdown(client, 2000, NULL);
    hm_client_free(client);

    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", spool);
    CHECK(system(command) == 0, "removed the spool");
    return finish();
}
