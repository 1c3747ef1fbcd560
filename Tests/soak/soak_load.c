/* The fault soak's load: THREADS threads share one client and send EVENTS calls in total
 * (track and identify, by visitor id and by email after an identify that set it), each
 * carrying a per-identity sequence number ("seq" in properties/traits), so a checker can see
 * what arrived, what twice, and in which order. Run by Tests/soak/soak.py, which injects the
 * faults and checks the dev server's log; this program reports, as one JSON object on stdout:
 * the counters, the identities with how many calls each got, the refusals, the peak memory
 * and the duration.
 *
 *   soak_load EVENTS THREADS IDENTITIES_PER_THREAD DEADLINE_SECONDS
 *
 * Needs HIMETRICA_ENDPOINT and HIMETRICA_SECRET_KEY. Every loop is bounded by the count and
 * by DEADLINE_SECONDS. */
#define _POSIX_C_SOURCE 200809L
#include "himetrica.h"
#include "procstatus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 16
#define MAX_IDENTITIES 256

static hm_client *client;
static long events_total, threads, per_thread_identities;
static double deadline;
static atomic_long outcomes[4];
static atomic_long log_lines;
static atomic_long queue_full_refusals;
static atomic_long errors;
static uint64_t capacity = 10000;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void on_delivery(const hm_delivery *d, void *user) {
    (void)user;
    int outcome = hm_delivery_outcome(d);
    if (outcome >= 0 && outcome < 4) atomic_fetch_add(&outcomes[outcome], 1);
    static atomic_int printed;
    if (outcome != HM_DELIVERED && atomic_fetch_add(&printed, 1) < 10) {
        const char *message = hm_delivery_message(d);
        fprintf(stderr, "soak: %s %s (status %d, %d attempts): %s\n", hm_outcome_name(outcome),
                hm_delivery_endpoint(d), hm_delivery_status(d), hm_delivery_attempts(d), message ? message : "");
    }
}

static void on_log(int32_t level, const char *message, void *user) {
    (void)user;
    atomic_fetch_add(&log_lines, 1);
    if (atomic_load(&log_lines) <= 20) fprintf(stderr, "soak log [%d]: %s\n", level, message);
}

struct identity {
    char value[96];
    int is_email;
    long seq; /* calls made for it so far */
};

struct worker {
    int index;
    unsigned long long rng;
    struct identity ids[MAX_IDENTITIES];
    int n_ids;
    long sent;
};

static unsigned long long next_random(unsigned long long *state) { /* SplitMix64 */
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* One call; on a full queue waits a millisecond and tries the same call again (a refused call
 * is not queued, so it cannot arrive twice). Returns 0 when the deadline passed. */
static int call(struct worker *w, struct identity *id, int identify, const char *extra) {
    char json[256];
    const char *visitor = id->is_email ? NULL : id->value, *email = id->is_email ? id->value : NULL;
    snprintf(json, sizeof json, "{\"seq\":%ld,\"thread\":%d%s}", id->seq, w->index, extra ? extra : "");
    for (;;) {
        /* Pace on the queue depth so the producers do not outrun delivery by more than the
         * queue holds (the engine would refuse, and count, the excess). */
        uint64_t depth = 0;
        hm_stats_get(client, HM_STAT_QUEUE_DEPTH, &depth);
        if (depth + 64 * (uint64_t)threads >= capacity) {
            if (now() > deadline) return 0;
            pause_ms(1);
            continue;
        }
        hm_status s = identify ? hm_identify(client, NULL, email, visitor, json)
                               : hm_track(client, (w->sent & 1) ? "soak_event" : "soak-other", NULL, email, visitor,
                                          json, NULL, NULL);
        if (s == HM_OK) break;
        if (s == HM_ERR_QUEUE_FULL) {
            atomic_fetch_add(&queue_full_refusals, 1);
            if (now() > deadline) return 0;
            pause_ms(1);
            continue;
        }
        atomic_fetch_add(&errors, 1);
        fprintf(stderr, "soak: call failed: %s\n", hm_last_error());
        return 0;
    }
    id->seq++;
    w->sent++;
    return 1;
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    long quota = events_total / threads + (w->index < events_total % threads ? 1 : 0);
    /* Visitors; every other one also gets an email identity, set by an identify first. */
    for (int i = 0; i < per_thread_identities && w->n_ids < MAX_IDENTITIES; i++) {
        struct identity *v = &w->ids[w->n_ids++];
        snprintf(v->value, sizeof v->value, "soak-t%d-v%d", w->index, i);
        if (i % 2 == 0 && w->n_ids < MAX_IDENTITIES && w->sent < quota) {
            struct identity *e = &w->ids[w->n_ids++];
            snprintf(e->value, sizeof e->value, "soak-t%d-e%d@example.com", w->index, i);
            e->is_email = 1;
            char extra[160];
            snprintf(extra, sizeof extra, ",\"email\":\"%s\",\"name\":\"Soak %d/%d\"", e->value, w->index, i);
            if (!call(w, v, 1, extra)) return NULL;
        }
    }
    while (w->sent < quota) {
        struct identity *id = &w->ids[next_random(&w->rng) % (unsigned long long)w->n_ids];
        int identify = next_random(&w->rng) % 100 < 15;
        if (!call(w, id, identify, NULL)) return NULL;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s EVENTS THREADS IDENTITIES_PER_THREAD DEADLINE_SECONDS\n", argv[0]);
        return 2;
    }
    events_total = atol(argv[1]);
    threads = atol(argv[2]);
    per_thread_identities = atol(argv[3]);
    double budget = atof(argv[4]);
    const char *endpoint = getenv("HIMETRICA_ENDPOINT"), *key = getenv("HIMETRICA_SECRET_KEY");
    if (!endpoint || !key || threads < 1 || threads > MAX_THREADS || per_thread_identities < 1 ||
        per_thread_identities > MAX_IDENTITIES / 2 || events_total < 1 || budget <= 0) {
        fprintf(stderr, "bad arguments or environment\n");
        return 2;
    }
    double start = now();
    deadline = start + budget;

    hm_config *config = hm_config_new();
    const char *options[][2] = {
        {"endpoint", endpoint},          {"rate_limit_track", "none"}, {"rate_limit_identify", "none"},
        {"rate_limit_user_id", "none"},  {"max_in_flight", "16"},      {"max_attempts", "100"},
        {"retry_base_delay", "0.05"},    {"retry_max_delay", "1"},     {"max_retry_age", "3600"},
        {"connect_timeout", "2"},        {"request_timeout", "5"},     {"queue_capacity", "10000"},
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (hm_config_set(config, options[i][0], options[i][1]) != HM_OK) {
            fprintf(stderr, "config %s: %s\n", options[i][0], hm_last_error());
            return 2;
        }
    }
    hm_config_set_delivery_callback(config, on_delivery, NULL);
    hm_config_set_log_callback(config, on_log, 3, NULL);
    if (hm_client_new(key, config, &client) != HM_OK) {
        fprintf(stderr, "hm_client_new: %s\n", hm_last_error());
        return 2;
    }
    hm_config_free(config);
    long rss_start = status_kb("VmRSS:");

    static struct worker workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    for (long t = 0; t < threads; t++) {
        workers[t].index = (int)t;
        workers[t].rng = 0x5eed0000ULL + (unsigned long long)t;
        pthread_create(&ids[t], NULL, run_worker, &workers[t]);
    }
    for (long t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    double produced = now() - start;

    double left = deadline - now();
    uint64_t pending = 0;
    hm_status flushed = hm_flush(client, left > 1 ? (uint32_t)(left * 1000) : 1000, &pending);
    double duration = now() - start;

    /* Every counter from one snapshot, named by the library (hm_stat order is the fields' order). */
    hm_stats snapshot;
    memset(&snapshot, 0, sizeof snapshot);
    snapshot.size = sizeof snapshot;
    hm_stats_snapshot(client, &snapshot);
    hm_shutdown(client, 5000, NULL);

    printf("{\"duration\":%.3f,\"produce_seconds\":%.3f,\"flushed\":%s,\"pending\":%llu,", duration, produced,
           flushed == HM_OK ? "true" : "false", (unsigned long long)pending);
    printf("\"rss_start_kb\":%ld,\"peak_rss_kb\":%ld,\"queue_full_refusals\":%ld,\"call_errors\":%ld,", rss_start,
           status_kb("VmHWM:"), atomic_load(&queue_full_refusals), atomic_load(&errors));
    printf("\"log_lines\":%ld,\"callback\":{\"delivered\":%ld,\"rejected\":%ld,\"gave_up\":%ld,\"dropped\":%ld},",
           atomic_load(&log_lines), atomic_load(&outcomes[0]), atomic_load(&outcomes[1]), atomic_load(&outcomes[2]),
           atomic_load(&outcomes[3]));
    printf("\"stats\":{");
    for (int s = 0; hm_stat_name(s) && offsetof(hm_stats, queued) + (size_t)s * sizeof(uint64_t) < sizeof snapshot; s++) {
        uint64_t value;
        memcpy(&value, (const char *)&snapshot + offsetof(hm_stats, queued) + (size_t)s * sizeof value, sizeof value);
        printf("%s\"%s\":%llu", s ? "," : "", hm_stat_name(s), (unsigned long long)value);
    }
    printf("},\"identities\":{");
    int first = 1;
    for (long t = 0; t < threads; t++)
        for (int i = 0; i < workers[t].n_ids; i++) {
            printf("%s\"%s:%s\":%ld", first ? "" : ",", workers[t].ids[i].is_email ? "email" : "visitorId",
                   workers[t].ids[i].value, workers[t].ids[i].seq);
            first = 0;
        }
    printf("}}\n");
    hm_client_free(client);
    return 0;
}
