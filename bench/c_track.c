/* C benchmarks of libhimetrica against a dev server (HIMETRICA_ENDPOINT):
 *   call      hm_track call cost (p50/p99) while the flush thread is busy delivering
 *   threads   calls/s from 1 thread and from 2 threads at once
 *   flush     how long a flush of one event takes (until it is delivered), the median
 *   all       call, threads (busy and idle) and flush
 *   deliver   events/s delivered with no limits, and client CPU per delivered event
 *   spool     the call cost and the flush with a spool, the flush thread's commit rate and
 *             the disk bytes per queued event
 *   spool_call  only the call cost with a spool (to alternate with `call` in repeated runs)
 *   spool_deliver  delivery with a spool (alternated with `deliver` and wrk in rounds)
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

/* With a spool (the `spool` benchmarks): every client is made with a fresh spool directory,
 * and the figures are printed with the prefix "spool_" instead of "c_". */
static int with_spool = 0;
static const char *prefix = "c_";

/* Exits when a setting is refused: a figure taken with a default in its place would be wrong. */
static void set(hm_config *config, const char *name, const char *value) {
    if (hm_config_set(config, name, value) != HM_OK) {
        fprintf(stderr, "config %s: %s\n", name, hm_last_error());
        exit(1);
    }
}

/* Exits unless every call so far was accepted: a refused call (queue full) costs less than a
 * queued one and would flatter the figure. */
static void check_all_accepted(hm_client *client) {
    uint64_t dropped = 0;
    hm_stats_get(client, HM_STAT_DROPPED, &dropped);
    if (dropped > 0) {
        fprintf(stderr, "%llu calls were refused or dropped\n", (unsigned long long)dropped);
        exit(1);
    }
}

/* A client of `endpoint` with the given queue capacity and track limit; `in_flight` NULL keeps
 * the default max_in_flight. */
static hm_client *client_limited(const char *endpoint, const char *capacity, const char *limit, const char *in_flight) {
    hm_config *config = hm_config_new();
    set(config, "endpoint", endpoint);
    set(config, "queue_capacity", capacity);
    set(config, "rate_limit_track", limit);
    if (in_flight) set(config, "max_in_flight", in_flight);
    set(config, "exit_flush_timeout", "0");
    if (with_spool) {
        static char dir[64];
        snprintf(dir, sizeof dir, "/tmp/himetrica-bench-spool-XXXXXX");
        if (!mkdtemp(dir)) exit(1);
        set(config, "spool", dir);
    }
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) {
        fprintf(stderr, "client: %s\n", hm_last_error());
        exit(1);
    }
    hm_config_free(config);
    return client;
}

static hm_client *client_for(const char *capacity) {
    return client_limited(getenv("HIMETRICA_ENDPOINT"), capacity, "none", "16");
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
    printf("%strack_p50 %.3f us\n", prefix, samples[count / 2] / 1000);
    printf("%strack_p99 %.3f us\n", prefix, samples[count * 99 / 100] / 1000);
    printf("%strack_busy_in_flight %llu requests\n", prefix, (unsigned long long)in_flight);
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

/* Calls/s from one thread, then from two at once, each with its own client whose queue is
 * large enough for all. With `idle`, the client is rate-limited to one request an hour, so the
 * flush thread does not send and the figure is the calls alone (on a 2-core machine a busy
 * sender takes a core's share); the queue then grows by about 400 bytes a call, so the figure
 * includes the page faults of a growing heap. Five rounds alternate 1 and 2 threads, so both
 * see the same machine; the median round of each is printed. */
static double threads_round(int threads, int count, int idle) {
    hm_client *client = idle ? client_limited(getenv("HIMETRICA_ENDPOINT"), "1000000", "1/3600", "16")
                             : client_for("1000000");
    pthread_t ids[2];
    struct worker workers[2];
    double start = now_ns();
    for (int t = 0; t < threads; t++) {
        workers[t] = (struct worker){client, count, t * 32};
        pthread_create(&ids[t], NULL, run_worker, &workers[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    double seconds = (now_ns() - start) / 1e9;
    check_all_accepted(client);
    hm_shutdown(client, 0, NULL);
    hm_client_free(client);
    return threads * count / seconds;
}

static void bench_threads(int count, int idle) {
    enum { ROUNDS = 5 };
    double rates[2][ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int threads = 1; threads <= 2; threads++) rates[threads - 1][round] = threads_round(threads, count, idle);
    }
    for (int threads = 1; threads <= 2; threads++) {
        qsort(rates[threads - 1], ROUNDS, sizeof(double), compare);
        printf("c_track_calls_per_s_%d_thread%s %.0f calls/s\n", threads, idle ? "_idle" : "", rates[threads - 1][ROUNDS / 2]);
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
    printf("%sdeliver_events_per_s %.0f events/s\n", prefix, delivered / seconds);
    printf("%scpu_per_event %.2f us\n", prefix, (cpu_seconds() - cpu) / (double)delivered * 1e6);
    printf("%sdeliver_delivered %llu events\n", prefix, (unsigned long long)delivered);
    hm_shutdown(client, 1000, NULL);
    hm_client_free(client);
}

/* How long `track` then `flush` of one event takes, until the event is delivered (and, with
 * a spool, committed and its outcome recorded): the median of `rounds`, in ms. */
static void bench_flush(int rounds) {
    hm_client *client = client_for("1000");
    double ms[64];
    if (rounds > 64) rounds = 64;
    for (int r = 0; r < rounds; r++) {
        double start = now_ns();
        hm_track(client, "bench_flush", NULL, NULL, "bench-visitor-0", PROPS, NULL, NULL);
        hm_flush(client, 10000, NULL);
        ms[r] = (now_ns() - start) / 1e6;
    }
    uint64_t delivered = 0;
    hm_stats_get(client, HM_STAT_DELIVERED, &delivered);
    if (delivered != (uint64_t)rounds) {
        fprintf(stderr, "flush: %llu of %d delivered\n", (unsigned long long)delivered, rounds);
        exit(1);
    }
    qsort(ms, rounds, sizeof(double), compare);
    printf("%sflush_ms %.2f ms\n", prefix, ms[rounds / 2]);
    hm_shutdown(client, 1000, NULL);
    hm_client_free(client);
}

static void sleep_us(long us) {
    struct timespec pause = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&pause, NULL);
}

/* Events/s the flush thread commits to the spool with nothing sent (the client keeps to one
 * request an hour), from the first call until all are committed; then the spool's disk bytes
 * per queued event. */
static void bench_commit(int count) {
    hm_client *client = client_limited(getenv("HIMETRICA_ENDPOINT"), "1000000", "1/3600", NULL);
    char visitor[32];
    uint64_t spooled = 0, bytes_before = 0, bytes = 0;
    visitor_name(visitor, 0);
    hm_track(client, "bench_commit", NULL, NULL, visitor, PROPS, NULL, NULL);
    for (int i = 0; i < 2000 && spooled < 1; i++) {
        sleep_us(1000);
        hm_stats_get(client, HM_STAT_SPOOLED, &spooled);
    }
    hm_stats_get(client, HM_STAT_SPOOL_BYTES, &bytes_before);
    double start = now_ns();
    for (int i = 1; i <= count; i++) {
        visitor_name(visitor, i);
        hm_track(client, "bench_commit", NULL, NULL, visitor, PROPS, NULL, NULL);
    }
    while (spooled < (uint64_t)count + 1 && now_ns() - start < 120e9) {
        sleep_us(200);
        hm_stats_get(client, HM_STAT_SPOOLED, &spooled);
    }
    double seconds = (now_ns() - start) / 1e9;
    check_all_accepted(client);
    hm_stats_get(client, HM_STAT_SPOOL_BYTES, &bytes);
    printf("spool_commit_events_per_s %.0f events/s\n", (spooled - 1) / seconds);
    printf("spool_bytes_per_event %.0f B\n", ((double)bytes - (double)bytes_before) / count);
    hm_shutdown(client, 0, NULL);
    hm_client_free(client);
}

static long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * 4096L;
}

/* Memory per queued event with the server down: RSS after queueing `count` events minus RSS of
 * a started, empty client, per event, minus the body itself. */
static void bench_memory(int count) {
    /* Port 9 (discard) on loopback: nothing listens, so every request fails and is retried
     * later; the queue only grows. */
    hm_client *client = client_limited("http://127.0.0.1:9/api/v1", "1000000", "none", "16");
    char visitor[32];
    visitor_name(visitor, 0);
    hm_track(client, "bench_memory", NULL, NULL, visitor, PROPS, NULL, NULL);  /* starts the thread */
    hm_flush(client, 200, NULL);
    long before = rss_bytes();
    for (int i = 1; i <= count; i++) {
        snprintf(visitor, sizeof visitor, "bench-visitor-%d", i % 1000);
        hm_track(client, "bench_memory", NULL, NULL, visitor, PROPS, NULL, NULL);
    }
    long after = rss_bytes();
    uint64_t depth = 0;
    hm_stats_get(client, HM_STAT_QUEUE_DEPTH, &depth);
    /* The body: {"eventName":"bench_memory","visitorId":"bench-visitor-NNN","properties":PROPS,"timestamp":"...24..."} */
    double body = strlen("{\"eventName\":\"bench_memory\",\"visitorId\":\"bench-visitor-NNN\",\"properties\":,\"timestamp\":\"\"}")
                  + strlen(PROPS) + 24;
    double per_event = (double)(after - before) / count;
    printf("c_memory_rss_per_event %.0f bytes\n", per_event);
    printf("c_memory_body_bytes %.0f bytes\n", body);
    printf("c_memory_beyond_body %.0f bytes\n", per_event - body);
    printf("c_memory_queue_depth %llu events\n", (unsigned long long)depth);
    hm_shutdown(client, 0, NULL);
    hm_client_free(client);
}

/* Delivery under a rate limit with added latency: queue more than the limit allows, run for
 * `seconds`, count what was delivered and the 429s seen. LIMIT is COUNT/SECONDS, as the
 * server's. The most a sliding window allows in `seconds` is limit * (1 + floor(seconds /
 * window)) when a burst starts the run; we report delivered / (count * seconds / window), the
 * steady rate's share, capped by what the window arithmetic allows. */
static void bench_latency(const char *limit, double seconds) {
    int count = atoi(limit);
    double window = atof(strchr(limit, '/') + 1);
    hm_client *client = client_limited(getenv("HIMETRICA_ENDPOINT"), "1000000", limit, NULL);
    /* Twice what the run can send: the queue never runs dry. */
    int queued = (int)(2 * count * (seconds / window + 1));
    char visitor[32];
    for (int i = 0; i < queued; i++) {
        snprintf(visitor, sizeof visitor, "bench-visitor-%d", i % 5000);
        hm_track(client, "bench_latency", NULL, NULL, visitor, "{\"n\":1}", NULL, NULL);
    }
    double start = now_ns();
    while ((now_ns() - start) / 1e9 < seconds) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    uint64_t delivered = 0, throttled = 0;
    hm_stats_get(client, HM_STAT_DELIVERED, &delivered);
    hm_stats_get(client, HM_STAT_THROTTLED, &throttled);
    /* The window allows `count` per `window` seconds: over the run that is count*seconds/window
     * at the steady rate (the first window's burst may add up to `count` more). */
    double allowed = count * seconds / window;
    printf("c_latency_delivered %llu events\n", (unsigned long long)delivered);
    printf("c_latency_allowed %.0f events\n", allowed);
    printf("c_latency_fraction %.4f of-limit\n", delivered / allowed);
    printf("c_latency_429 %llu responses\n", (unsigned long long)throttled);
    hm_shutdown(client, 0, NULL);
    hm_client_free(client);
}

int main(int argc, char **argv) {
    if (!getenv("HIMETRICA_ENDPOINT")) {
        fprintf(stderr, "run through scripts/with-devserver.sh\n");
        return 2;
    }
    const char *what = argc > 1 ? argv[1] : "all";
    /* scale: a multiplier of the counts (BENCH_SMOKE uses 0.01 to check the code runs). */
    double scale = argc > 2 ? atof(argv[2]) : 1;
    if (!strcmp(what, "call") || !strcmp(what, "all")) bench_call((int)(100000 * scale) + 10);
    if (!strcmp(what, "threads") || !strcmp(what, "all")) bench_threads((int)(100000 * scale) + 10, 0);
    if (!strcmp(what, "threads_idle") || !strcmp(what, "all")) bench_threads((int)(200000 * scale) + 10, 1);
    if (!strcmp(what, "flush") || !strcmp(what, "all")) bench_flush(scale < 1 ? 5 : 51);
    if (!strcmp(what, "deliver")) bench_deliver((int)(20000 * scale) + 10);
    if (!strcmp(what, "memory")) bench_memory((int)(10000 * scale) + 10);
    if (!strcmp(what, "spool_call")) {
        with_spool = 1;
        prefix = "spool_";
        bench_call((int)(100000 * scale) + 10);
    }
    if (!strcmp(what, "spool_deliver")) {
        with_spool = 1;
        prefix = "spool_";
        bench_deliver((int)(20000 * scale) + 10);
    }
    if (!strcmp(what, "spool")) {
        with_spool = 1;
        prefix = "spool_";
        bench_call((int)(100000 * scale) + 10);
        bench_flush(scale < 1 ? 5 : 51);
        bench_commit((int)(100000 * scale) + 10);
    }
    if (!strcmp(what, "latency")) bench_latency(argc > 3 ? argv[3] : "1000/60", argc > 4 ? atof(argv[4]) : 120);
    return 0;
}
