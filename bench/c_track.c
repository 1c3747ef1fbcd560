/* C benchmarks of libhimetrica against a dev server (HIMETRICA_ENDPOINT):
 *   call      hm_track call cost (p50/p99) while the flush thread is busy delivering
 *   threads   calls/s from 1 thread and from 2 threads at once
 *   deliver   events/s delivered with no limits, and client CPU per delivered event
 * Prints one "name value unit" line per figure, for bench/run.sh to tabulate. Every loop is
 * bounded in count and time. */
#include "himetrica.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *PROPS = "{\"plan\":\"pro\",\"amount\":29.99,\"currency\":\"USD\",\"seats\":3}";

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static hm_client *client_for(const char *capacity) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", getenv("HIMETRICA_ENDPOINT"));
    hm_config_set(config, "queue_capacity", capacity);
    hm_config_set(config, "rate_limit_track", "none");
    hm_config_set(config, "max_in_flight", "16");
    hm_config_set(config, "exit_flush_timeout", "0");
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) {
        fprintf(stderr, "client: %s\n", hm_last_error());
        exit(1);
    }
    hm_config_free(config);
    return client;
}

static void visitor_name(char *buffer, int i) { snprintf(buffer, 32, "bench-visitor-%d", i % 64); }

/* The cost of one hm_track call while earlier calls are being delivered. */
static void bench_call(int count) {
    hm_client *client = client_for("1000000");
    double *samples = malloc(sizeof(double) * count);
    char visitor[32];
    for (int i = 0; i < 2000; i++) {  /* warm up: the flush thread starts sending */
        visitor_name(visitor, i);
        hm_track(client, "bench_warmup", NULL, NULL, visitor, PROPS, NULL, NULL);
    }
    for (int i = 0; i < count; i++) {
        visitor_name(visitor, i);
        double start = now_ns();
        hm_track(client, "bench_call", NULL, NULL, visitor, PROPS, NULL, NULL);
        samples[i] = now_ns() - start;
    }
    uint64_t in_flight = 0;
    hm_stats_get(client, HM_STAT_IN_FLIGHT, &in_flight);
    qsort(samples, count, sizeof(double), compare);
    printf("c_track_p50 %.3f us\n", samples[count / 2] / 1000);
    printf("c_track_p99 %.3f us\n", samples[count * 99 / 100] / 1000);
    printf("c_track_busy_in_flight %llu requests\n", (unsigned long long)in_flight);
    free(samples);
    hm_shutdown(client, 0, NULL);
    hm_client_free(client);
}

struct worker { hm_client *client; int count; int offset; };

static void *run_worker(void *arg) {
    struct worker *w = arg;
    char visitor[32];
    for (int i = 0; i < w->count; i++) {
        visitor_name(visitor, i + w->offset);
        hm_track(w->client, "bench_threads", NULL, NULL, visitor, PROPS, NULL, NULL);
    }
    return NULL;
}

/* Calls/s from one thread, then from two at once; the queue is large enough for all. */
static void bench_threads(int count) {
    for (int threads = 1; threads <= 2; threads++) {
        hm_client *client = client_for("2000000");
        pthread_t ids[2];
        struct worker workers[2];
        double start = now_ns();
        for (int t = 0; t < threads; t++) {
            workers[t] = (struct worker){client, count, t * 32};
            pthread_create(&ids[t], NULL, run_worker, &workers[t]);
        }
        for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
        double seconds = (now_ns() - start) / 1e9;
        printf("c_track_calls_per_s_%d_thread %.0f calls/s\n", threads, threads * count / seconds);
        hm_shutdown(client, 0, NULL);
        hm_client_free(client);
    }
}

/* Events/s delivered to the dev server, and the client's CPU per delivered event. */
static void bench_deliver(int count) {
    hm_client *client = client_for("1000000");
    double cpu = cpu_seconds(), start = now_ns();
    char visitor[32];
    for (int i = 0; i < count; i++) {
        visitor_name(visitor, i);
        hm_track(client, "bench_deliver", NULL, NULL, visitor, PROPS, NULL, NULL);
    }
    uint64_t pending = 0;
    hm_flush(client, 120000, &pending);
    double seconds = (now_ns() - start) / 1e9;
    uint64_t delivered = 0;
    hm_stats_get(client, HM_STAT_DELIVERED, &delivered);
    printf("c_deliver_events_per_s %.0f events/s\n", delivered / seconds);
    printf("c_cpu_per_event %.2f us\n", (cpu_seconds() - cpu) / (double)delivered * 1e6);
    printf("c_deliver_delivered %llu events\n", (unsigned long long)delivered);
    hm_shutdown(client, 1000, NULL);
    hm_client_free(client);
}

int main(int argc, char **argv) {
    if (!getenv("HIMETRICA_ENDPOINT")) {
        fprintf(stderr, "run through scripts/with-devserver.sh\n");
        return 2;
    }
    const char *what = argc > 1 ? argv[1] : "all";
    int scale = argc > 2 ? atoi(argv[2]) : 1;
    if (!strcmp(what, "call") || !strcmp(what, "all")) bench_call(100000 * scale);
    if (!strcmp(what, "threads") || !strcmp(what, "all")) bench_threads(200000 * scale);
    if (!strcmp(what, "deliver") || !strcmp(what, "all")) bench_deliver(20000 * scale);
    return 0;
}
