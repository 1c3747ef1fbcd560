/* One "host" of the shared-limit tests: tracks as fast as the client lets it (keeping at most
 * BACKLOG requests queued, so that nothing is dropped for a full queue) for SECONDS, then
 * flushes. Prints to stdout, one JSON object a line: a tick every 250 ms with the counters
 * and the time since start, then {"final": true, ...} with the counters after the flush, the
 * slowest hm_track call and what was still pending. Log lines go to stderr.
 *
 *   redis_load SECONDS [option=value ...]     (options go to hm_config_set)
 *
 * Needs HIMETRICA_ENDPOINT and HIMETRICA_SECRET_KEY; HIMETRICA_SHARED_LIMIT works as usual. */
#define _POSIX_C_SOURCE 200809L
#include "himetrica.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 16

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_log(int32_t level, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "log[%d] %s\n", level, message ? message : "");
}

static uint64_t stat(hm_client *client, int32_t index) {
    uint64_t value = 0;
    hm_stats_get(client, index, &value);
    return value;
}

static void print_stats(hm_client *client, double t, const char *extra) {
    printf("{\"t\": %.3f", t);
    for (int32_t i = 0; hm_stat_name(i) != NULL; i++) {
        printf(", \"%s\": %llu", hm_stat_name(i), (unsigned long long)stat(client, i));
    }
    printf("%s}\n", extra);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: redis_load SECONDS [option=value ...]\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    const char *endpoint = getenv("HIMETRICA_ENDPOINT"), *key = getenv("HIMETRICA_SECRET_KEY");
    if (endpoint == NULL || key == NULL) {
        fprintf(stderr, "redis_load: set HIMETRICA_ENDPOINT and HIMETRICA_SECRET_KEY\n");
        return 2;
    }
    hm_config *config = hm_config_new();
    hm_config_set_log_callback(config, on_log, 2, NULL);
    for (int i = 2; i < argc; i++) {
        char *option = strdup(argv[i]), *equals = strchr(option, '=');
        if (equals == NULL) {
            fprintf(stderr, "redis_load: %s: expected option=value\n", argv[i]);
            return 2;
        }
        *equals = '\0';
        if (hm_config_set(config, option, equals + 1) != HM_OK) {
            fprintf(stderr, "redis_load: %s\n", hm_last_error());
            return 2;
        }
        free(option);
    }
    /* After the options: allow_insecure_http decides whether a non-loopback http:// is taken. */
    if (hm_config_set(config, "endpoint", endpoint) != HM_OK) {
        fprintf(stderr, "redis_load: %s\n", hm_last_error());
        return 2;
    }
    hm_client *client = NULL;
    if (hm_client_new(key, config, &client) != HM_OK) {
        fprintf(stderr, "redis_load: %s\n", hm_last_error());
        return 2;
    }
    hm_config_free(config);

    double start = now(), next_tick = start, slowest = 0;
    long sent = 0, refused = 0;
    char visitor[64];
    while (now() - start < seconds) {
        if (now() >= next_tick) {
            print_stats(client, now() - start, "");
            next_tick += 0.25;
        }
        if (stat(client, HM_STAT_QUEUE_DEPTH) + stat(client, HM_STAT_IN_FLIGHT) >= BACKLOG) {
            struct timespec ms = {0, 1000000L};
            nanosleep(&ms, NULL);
            continue;
        }
        snprintf(visitor, sizeof visitor, "load-%d-%ld", (int)getpid(), sent % 64);
        double before = now();
        hm_status status = hm_track(client, "shared_limit_load", NULL, NULL, visitor, "{\"n\":1}", NULL, NULL);
        double took = now() - before;
        if (took > slowest) slowest = took;
        if (status == HM_OK) sent++; else refused++;
    }
    uint64_t pending = 0;
    hm_flush(client, 60000, &pending);
    char extra[160];
    snprintf(extra, sizeof extra, ", \"final\": true, \"sent\": %ld, \"refused\": %ld, \"pending\": %llu, \"max_call_us\": %.1f",
             sent, refused, (unsigned long long)pending, slowest * 1e6);
    print_stats(client, now() - start, extra);
    hm_shutdown(client, 1000, NULL);
    hm_client_free(client);
    return 0;
}
