/* Security tests of the C API against misbehaving loopback servers (security_servers.py
 * starts them and runs this program): TLS verification on by default, plain http:// only to
 * loopback, redirects not followed, oversized answers cut off with bounded memory, and a
 * server that sends garbage or never answers cannot hold flush, shutdown or free past their
 * deadlines. Prints "N passed, N failed" last. */
#define _POSIX_C_SOURCE 200809L
#include "himetrica.h"
#include "check.h"
#include "procstatus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const KEY = "hm_sk_security_test_key_5e1f";


static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct outcome { int count, outcome, status, freed, late; char message[512]; };

static void on_delivery(const hm_delivery *d, void *user) {
    struct outcome *o = user;
    if (o->freed) o->late++; /* a callback after hm_client_free returned */
    o->count++;
    o->outcome = hm_delivery_outcome(d);
    o->status = hm_delivery_status(d);
    const char *m = hm_delivery_message(d);
    snprintf(o->message, sizeof o->message, "%s", m ? m : "");
}

static int leaked_lines;
static void on_log(int32_t level, const char *message, void *user) {
    (void)level;
    (void)user;
    if (message && strstr(message, KEY)) leaked_lines++;
    if (message) printf("  log: %s\n", message);
}

static const char *port(const char *name) {
    const char *value = getenv(name);
    if (!value) {
        fprintf(stderr, "%s is not set: run through security_servers.py\n", name);
        exit(2);
    }
    return value;
}

/* A client for `url`, with `extra` option pairs (NULL-terminated), a delivery callback and
 * the log callback. */
static hm_client *client_for(const char *url, struct outcome *o, const char *const *extra) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", url);
    hm_config_set(config, "max_attempts", "1");
    for (; extra && extra[0]; extra += 2)
        CHECK(hm_config_set(config, extra[0], extra[1]) == HM_OK, "option %s: %s", extra[0], hm_last_error());
    hm_config_set_delivery_callback(config, on_delivery, o);
    hm_config_set_log_callback(config, on_log, 0, NULL);
    hm_client *client = NULL;
    CHECK(hm_client_new(KEY, config, &client) == HM_OK, "client for %s: %s", url, hm_last_error());
    hm_config_free(config);
    return client;
}

static void test_tls(void) {
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%s/api/v1", port("HM_SEC_TLS_PORT"));
    struct outcome o = {0};
    hm_client *c = client_for(url, &o, NULL);
    CHECK(hm_track(c, "tls_check", NULL, NULL, "v-tls", NULL, NULL, NULL) == HM_OK, "track");
    hm_flush(c, 10000, NULL);
    CHECK(o.count == 1 && o.outcome != HM_DELIVERED && o.status == 0,
          "a self-signed server is refused by default (outcome %d, status %d: %s)", o.outcome, o.status, o.message);
    printf("tls without ca_file: %s\n", o.message);
    hm_client_free(c);

    struct outcome trusted = {0};
    const char *ca[] = {"ca_file", port("HM_SEC_CA"), NULL};
    c = client_for(url, &trusted, ca);
    CHECK(hm_track(c, "tls_check", NULL, NULL, "v-tls", NULL, NULL, NULL) == HM_OK, "track");
    hm_flush(c, 10000, NULL);
    CHECK(trusted.count == 1 && trusted.outcome == HM_DELIVERED && trusted.status == 202,
          "with ca_file the same server is trusted (outcome %d, status %d: %s)", trusted.outcome, trusted.status,
          trusted.message);
    hm_client_free(c);
}

static void test_plain_http(void) {
    const char *refused[] = {"http://example.com/api/v1", "http://127.0.0.1@example.com/api/v1",
                             "http://[::1]@example.com/", "http://localhost.example.com/api/v1",
                             "http://127.0.0.1.example.com/", "HTTP://EXAMPLE.COM/api/v1",
                             "http://127.0.0.1:1%2f@example.com/"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        hm_config *config = hm_config_new();
        hm_status s = hm_config_set(config, "endpoint", refused[i]);
        const char *e = hm_last_error();
        CHECK(s == HM_ERR_INVALID_ARGUMENT && e && strstr(e, "allow_insecure_http"), "%s refused: %s", refused[i],
              e ? e : "(accepted)");
        hm_config_free(config);
    }
    const char *loopback[] = {"http://127.0.0.1:8787/api/v1", "http://localhost:1/api/v1", "http://[::1]:1/api/v1",
                              "https://example.com/api/v1"};
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        hm_config *config = hm_config_new();
        CHECK(hm_config_set(config, "endpoint", loopback[i]) == HM_OK, "%s accepted: %s", loopback[i],
              hm_last_error());
        hm_config_free(config);
    }
    /* Allowed explicitly: the option is accepted (no client is made: no traffic leaves). */
    hm_config *config = hm_config_new();
    CHECK(hm_config_set(config, "allow_insecure_http", "true") == HM_OK, "allow_insecure_http");
    CHECK(hm_config_set(config, "endpoint", "http://example.com/api/v1") == HM_OK,
          "http:// to a remote host when allowed: %s", hm_last_error());
    hm_config_free(config);
}

static void test_redirect(void) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/api/v1", port("HM_SEC_REDIRECT_PORT"));
    struct outcome o = {0};
    hm_client *c = client_for(url, &o, NULL);
    hm_track(c, "redirect_check", NULL, NULL, "v-redirect", NULL, NULL, NULL);
    hm_flush(c, 10000, NULL);
    CHECK(o.count == 1 && o.outcome == HM_REJECTED && o.status == 307,
          "a 307 is not followed and not delivered (outcome %d, status %d)", o.outcome, o.status);
    char *user_id = NULL;
    hm_status s = hm_user_id(c, "v-redirect", 5000, &user_id);
    CHECK(s != HM_OK && user_id == NULL, "a redirected user-id lookup fails: %s", hm_status_name(s));
    hm_client_free(c);
}

static void test_big_answer(void) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/api/v1", port("HM_SEC_BIG_PORT"));
    struct outcome o = {0};
    /* Reset the peak-RSS mark (Linux: writing 5 to clear_refs), so VmHWM measures this test. */
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (clear) { fputs("5", clear); fclose(clear); }
    long before = status_kb("VmHWM:");
    hm_client *c = client_for(url, &o, NULL);
    double start = now();
    hm_track(c, "big_answer", NULL, NULL, "v-big", NULL, NULL, NULL);
    hm_status s = hm_flush(c, 20000, NULL);
    double took = now() - start;
    long grew = status_kb("VmHWM:") - before;
    CHECK(s == HM_OK && o.count == 1 && o.outcome == HM_DELIVERED && o.status == 200,
          "a 200 with a 100 MB body counts as delivered by its status (outcome %d, status %d, %s)", o.outcome,
          o.status, o.message);
    CHECK(grew < 16 * 1024, "peak RSS grew by %ld kB reading a 100 MB answer", grew);
    CHECK(took < 5, "cut off quickly (%.2f s)", took);
    printf("100 MB answer: cut off after %.3f s, peak RSS +%ld kB\n", took, grew);
    char *user_id = NULL;
    CHECK(hm_user_id(c, "v-big", 5000, &user_id) != HM_OK && user_id == NULL,
          "a user-id answer over the cap is not taken");
    hm_client_free(c);
}

/* A server that never answers properly must not hold flush, shutdown or free. */
static void test_wedge(const char *name, const char *port_env) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/api/v1", port(port_env));
    struct outcome o = {0};
    const char *options[] = {"max_attempts", "10", "exit_flush_timeout", "1", NULL}; /* default 10 s request timeout */
    hm_client *c = client_for(url, &o, options);
    for (int i = 0; i < 5; i++) hm_track(c, "wedge", NULL, NULL, i % 2 ? "v-a" : "v-b", NULL, NULL, NULL);
    uint64_t pending = 0;
    double start = now();
    hm_status s = hm_flush(c, 1500, &pending);
    double took = now() - start;
    CHECK(s == HM_ERR_TIMEOUT && pending > 0, "%s: flush times out (%s, %llu pending)", name, hm_status_name(s),
          (unsigned long long)pending);
    CHECK(took >= 1.4 && took < 2.5, "%s: flush returned by its deadline (%.2f s for 1.5 s)", name, took);
    char *user_id = NULL;
    start = now();
    s = hm_user_id(c, "v-a", 1000, &user_id);
    took = now() - start;
    CHECK(s == HM_ERR_TIMEOUT && took < 2, "%s: user-id times out by its deadline (%s, %.2f s)", name,
          hm_status_name(s), took);
    start = now();
    s = hm_shutdown(c, 1000, &pending);
    took = now() - start;
    CHECK(took < 2, "%s: shutdown returned by its deadline (%.2f s for 1 s; %s, %llu dropped)", name, took,
          hm_status_name(s), (unsigned long long)pending);
    uint64_t queued = 0, dropped = 0, delivered = 0;
    hm_stats_get(c, HM_STAT_QUEUED, &queued);
    hm_stats_get(c, HM_STAT_DROPPED, &dropped);
    hm_stats_get(c, HM_STAT_DELIVERED, &delivered);
    CHECK(delivered == 0 && queued == 5, "%s: nothing delivered (%llu of %llu)", name, (unsigned long long)delivered,
          (unsigned long long)queued);
    start = now();
    hm_client_free(c);
    CHECK(now() - start < 1.5, "%s: free after shutdown is quick (%.2f s)", name, now() - start);
    printf("%s server: flush, user-id and shutdown all returned by their deadlines\n", name);

    /* And free without a shutdown: bounded by exit_flush_timeout (1 s), and no callback may
     * run after it returns (the caller frees what user_data points to). The state is kept
     * (never freed) and marked, so a late callback is seen without a sanitizer too. */
    struct outcome *o2 = calloc(1, sizeof *o2);
    c = client_for(url, o2, options);
    hm_track(c, "wedge", NULL, NULL, "v-c", NULL, NULL, NULL);
    start = now();
    hm_client_free(c);
    took = now() - start;
    o2->freed = 1;
    CHECK(took < 2.5, "%s: free without shutdown bounded by exit_flush_timeout (%.2f s)", name, took);
    CHECK(o2->count == 1, "%s: the request's outcome (dropped) was reported before free returned (%d)", name,
          o2->count);
    struct timespec wait = {1, 500000000L};
    nanosleep(&wait, NULL);
    CHECK(o2->late == 0, "%s: %d delivery callbacks ran after hm_client_free returned", name, o2->late);
}

/* Validation messages name the field path, and property keys come from the caller's data: a
 * key must not put a line break into a message (log injection), cut it short at a NUL, or
 * make it as long as the properties. */
static void test_message_injection(void) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", "http://127.0.0.1:1/api/v1");
    hm_client *c = NULL;
    hm_client_new(KEY, config, &c);
    hm_config_free(config);
    hm_track(c, "e", NULL, NULL, "v", "{\"a\\r\\nInjected: yes\":NaN}", NULL, NULL);
    const char *e = hm_last_error();
    CHECK(e && strcmp(e, "properties.a\\r\\nInjected: yes: numbers must be finite (no NaN or Infinity)") == 0,
          "CR/LF in a key is escaped in the message: %s", e ? e : "(none)");
    hm_track(c, "e", NULL, NULL, "v", "{\"k\":{\"a\\u0000b\":1,\"a\\u0000b\":2}}", NULL, NULL);
    e = hm_last_error();
    CHECK(e && strcmp(e, "properties.k.a\\u0000b: duplicate key") == 0, "NUL in a key is escaped: %s", e ? e : "(none)");
    static char big[12000];
    strcpy(big, "{\"");
    memset(big + 2, 'k', 9000);
    strcpy(big + 9002, "\":NaN}");
    hm_track(c, "e", NULL, NULL, "v", big, NULL, NULL);
    e = hm_last_error();
    CHECK(e && strlen(e) < 200, "a 9000-byte key is shortened in the message (%zu bytes)", e ? strlen(e) : 0);
    hm_client_free(c);
}

int main(void) {
    test_message_injection();
    test_plain_http();
    test_tls();
    test_redirect();
    test_big_answer();
    test_wedge("garbage", "HM_SEC_GARBAGE_PORT");
    test_wedge("hang", "HM_SEC_HANG_PORT");
    CHECK(leaked_lines == 0, "%d log lines showed the secret key", leaked_lines);
    return finish();
}
