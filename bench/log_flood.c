/* How many log lines a sustained overload prints: a producer tracks EVENTS events into a
 * small queue (no rate limit, the dev server at HIMETRICA_ENDPOINT), backing off 50 us and
 * retrying each time hm_track says HM_ERR_QUEUE_FULL, as a careful C caller would. The
 * library's default logger writes warnings to standard error; run it as
 *   scripts/with-devserver.sh --no-limits -- build/log_flood 300000 2> >(grep -c 'queue full')
 * or through bench/log-flood.sh, which prints "name value unit" lines. Bounded: it gives up
 * after 400 s. */
#define _POSIX_C_SOURCE 200809L
#include "himetrica.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long events = argc > 1 ? atol(argv[1]) : 300000;
    const char *endpoint = getenv("HIMETRICA_ENDPOINT");
    if (!endpoint || events <= 0) {
        fprintf(stderr, "usage: HIMETRICA_ENDPOINT=... HIMETRICA_SECRET_KEY=... log_flood [EVENTS]\n");
        return 2;
    }
    hm_config *config = hm_config_new();
    const char *settings[][2] = {
        {"endpoint", endpoint}, {"queue_capacity", "1000"}, {"rate_limit_track", "none"}, {"max_in_flight", "8"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (hm_config_set(config, settings[i][0], settings[i][1]) != HM_OK) {
            fprintf(stderr, "config: %s\n", hm_last_error());
            return 1;
        }
    }
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) {
        fprintf(stderr, "client: %s\n", hm_last_error());
        return 1;
    }
    hm_config_free(config);
    const struct timespec backoff = {0, 50000};
    long refused = 0;
    double start = now_s(), deadline = start + 400;
    for (long i = 0; i < events && now_s() < deadline;) {
        char visitor[32];
        snprintf(visitor, sizeof visitor, "v-%ld", i % 64);
        hm_status s = hm_track(client, "flood", NULL, NULL, visitor, NULL, NULL, NULL);
        if (s == HM_OK) {
            i++;
        } else if (s == HM_ERR_QUEUE_FULL) {
            refused++;
            nanosleep(&backoff, NULL);
        } else {
            fprintf(stderr, "track: %s\n", hm_last_error());
            return 1;
        }
    }
    hm_flush(client, 60000, NULL);
    uint64_t delivered = 0;
    hm_stats_get(client, HM_STAT_DELIVERED, &delivered);
    printf("log_flood_events %ld count\n", events);
    printf("log_flood_delivered %llu count\n", (unsigned long long)delivered);
    printf("log_flood_refused %ld calls\n", refused);
    printf("log_flood_seconds %.1f s\n", now_s() - start);
    hm_shutdown(client, 5000, NULL);
    hm_client_free(client);
    return 0;
}
