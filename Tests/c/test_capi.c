/* Tests of the C API against a running himetrica-devserver (HIMETRICA_DEV_URL, set by
 * scripts/with-devserver.sh): every entry point, NULL and bad input (never a crash), the
 * delivery and log callbacks, shutdown. Prints "N passed, N failed" last. */
#define _POSIX_C_SOURCE 200809L
#include "himetrica.h"
#include "check.h"
#include "devhttp.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>



/* Checks a call's status and, when `message` is given, its exact hm_last_error(). */
static void expect(hm_status got, hm_status want, const char *message, const char *what) {
    const char *error = hm_last_error();
    CHECK(got == want, "%s: status %d (%s), want %d; error: %s", what, got, hm_status_name(got), want,
          error ? error : "(none)");
    if (message) {
        CHECK(error && strcmp(error, message) == 0, "%s: error \"%s\", want \"%s\"", what, error ? error : "(null)",
              message);
    } else if (want == HM_OK) {
        CHECK(error == NULL, "%s: hm_last_error() should be NULL after success, is \"%s\"", what, error);
    }
}

static const char *key;
static const char *endpoint;
static char dev_url[256];

static hm_client *new_client(hm_config *config) {
    hm_client *client = NULL;
    hm_status status = hm_client_new(key, config, &client);
    CHECK(status == HM_OK && client, "hm_client_new: %s", hm_last_error());
    return client;
}

static hm_config *local_config(void) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", endpoint);
    return config;
}

/* The README's counter equation, on one snapshot. */
static int balanced(const hm_stats *s) {
    return s->queued == s->delivered + s->rejected + s->gave_up + s->dropped + s->queue_depth + s->in_flight;
}

static hm_stats snapshot(hm_client *c) {
    hm_stats s;
    memset(&s, 0xAB, sizeof s);
    s.size = sizeof s;
    expect(hm_stats_snapshot(c, &s), HM_OK, NULL, "stats snapshot");
    return s;
}

/* ---- the tests ---- */

/* The header's version macros agree with each other and with the library the test runs with. */
static void test_version(void) {
    char text[32];
    snprintf(text, sizeof text, "%d.%d.%d", HM_VERSION_MAJOR, HM_VERSION_MINOR, HM_VERSION_PATCH);
    CHECK(strcmp(text, HM_VERSION) == 0, "HM_VERSION \"%s\" is MAJOR.MINOR.PATCH (%s)", HM_VERSION, text);
    CHECK(HM_VERSION_NUM == ((HM_VERSION_MAJOR << 16) | (HM_VERSION_MINOR << 8) | HM_VERSION_PATCH),
          "HM_VERSION_NUM 0x%06x is 0xXXYYZZ", (unsigned)HM_VERSION_NUM);
    CHECK(hm_version_number() == HM_VERSION_NUM, "hm_version_number() 0x%06x == HM_VERSION_NUM 0x%06x",
          (unsigned)hm_version_number(), (unsigned)HM_VERSION_NUM);
    CHECK(strcmp(hm_version(), HM_VERSION) == 0, "hm_version() \"%s\" == HM_VERSION", hm_version());
}

/* hm_stats, hm_stat and hm_stat_name() list the same counters in the same order. */
static void test_stat_layout(void) {
    const size_t first = offsetof(hm_stats, queued);
    const int count = (int)((sizeof(hm_stats) - first) / sizeof(uint64_t));
    for (int i = 0; i < count; i++) CHECK(hm_stat_name(i) != NULL, "hm_stat_name(%d) names a field of hm_stats", i);
    CHECK(hm_stat_name(count) == NULL, "hm_stat_name(%d): hm_stats has every counter the library has", count);
    CHECK(offsetof(hm_stats, queue_depth) == first + HM_STAT_QUEUE_DEPTH * sizeof(uint64_t) &&
              strcmp(hm_stat_name(HM_STAT_QUEUE_DEPTH), "queue_depth") == 0 &&
              offsetof(hm_stats, gave_up) == first + HM_STAT_GAVE_UP * sizeof(uint64_t) &&
              strcmp(hm_stat_name(HM_STAT_GAVE_UP), "gave_up") == 0,
          "hm_stat values are the fields' positions");
}

static void test_secret_key_masked(void) {
    char *masked = hm_secret_key_masked("hm_sk_live_abcdefgh1234");
    CHECK(masked && strcmp(masked, "hm_sk_\xe2\x80\xa6" "1234") == 0, "long key: %s", masked);
    hm_string_free(masked);
    masked = hm_secret_key_masked("hm_sk_abc1234");
    CHECK(masked && strcmp(masked, "hm_sk_\xe2\x80\xa6") == 0, "a short key shows none of its own characters: %s",
          masked);
    hm_string_free(masked);
    masked = hm_secret_key_masked("not_a_key_at_all_9876");
    CHECK(masked && strcmp(masked, "hm_sk_\xe2\x80\xa6") == 0, "not a key: %s", masked);
    hm_string_free(masked);
    CHECK(hm_secret_key_masked(NULL) == NULL, "NULL gives NULL");
}

/* A caller built against an older header (a smaller hm_stats) or a newer one (a larger one). */
static void test_snapshot_sizes(hm_client *c) {
    struct { hm_stats known; uint64_t newer[2]; uint64_t guard; } big;
    memset(&big, 0xAB, sizeof big);
    big.known.size = sizeof big.known + sizeof big.newer;
    expect(hm_stats_snapshot(c, &big.known), HM_OK, NULL, "snapshot into a larger struct");
    CHECK(big.newer[0] == 0 && big.newer[1] == 0, "counters the library does not know read 0");
    CHECK(big.guard == 0xABABABABABABABABull, "nothing written past size");
    CHECK(balanced(&big.known), "a larger struct still balances");

    hm_stats small;
    memset(&small, 0xAB, sizeof small);
    small.size = offsetof(hm_stats, rejected);
    expect(hm_stats_snapshot(c, &small), HM_OK, NULL, "snapshot into an older, smaller struct");
    CHECK(small.queued == big.known.queued && small.delivered == big.known.delivered, "its counters filled");
    CHECK(small.rejected == 0xABABABABABABABABull, "nothing written past its size");

    hm_stats tiny;
    tiny.size = sizeof(size_t);
    expect(hm_stats_snapshot(c, &tiny), HM_ERR_INVALID_ARGUMENT, "stats.size: must be set to sizeof(hm_stats)",
           "snapshot with no room for a counter");
    tiny.size = (size_t)-1;
    expect(hm_stats_snapshot(c, &tiny), HM_ERR_INVALID_ARGUMENT, "stats.size: must be set to sizeof(hm_stats)",
           "snapshot with a garbage size");
    expect(hm_stats_snapshot(c, NULL), HM_ERR_INVALID_ARGUMENT, "stats: must not be NULL", "snapshot NULL");
    expect(hm_stats_snapshot(NULL, &small), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL", "snapshot NULL client");
}

static void test_static_strings(void) {
    CHECK(strlen(hm_version()) > 0, "version");
    CHECK(strcmp(hm_status_name(HM_ERR_QUEUE_FULL), "queue full") == 0, "status name");
    CHECK(strcmp(hm_status_name(HM_ERR_SYSTEM), "system error") == 0, "status name of HM_ERR_SYSTEM");
    CHECK(strcmp(hm_status_name(999), "unknown") == 0, "unknown status name");
    CHECK(strcmp(hm_stat_name(HM_STAT_QUEUED), "queued") == 0, "stat name");
    CHECK(hm_stat_name(99) == NULL && hm_stat_name(-1) == NULL, "stat name past the end");
    CHECK(strcmp(hm_outcome_name(HM_GAVE_UP), "gave_up") == 0, "outcome name");
}

static void test_null_arguments(void) {
    hm_client *client = NULL;
    uint64_t value = 0;
    char *out = NULL;
    expect(hm_track(NULL, "e", NULL, NULL, "v", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "client: must not be NULL", "track NULL client");
    expect(hm_identify(NULL, NULL, NULL, "v", "{}"), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL",
           "identify NULL client");
    expect(hm_user_id(NULL, "v", 10, &out), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL", "user_id NULL");
    expect(hm_flush(NULL, 10, NULL), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL", "flush NULL");
    expect(hm_shutdown(NULL, 10, NULL), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL", "shutdown NULL");
    expect(hm_shutdown_at_exit(NULL, NULL), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL",
           "shutdown at exit NULL");
    expect(hm_stats_get(NULL, 0, &value), HM_ERR_INVALID_ARGUMENT, "client: must not be NULL", "stats NULL");
    expect(hm_client_new(NULL, NULL, &client), HM_ERR_INVALID_ARGUMENT, "secretKey: must not be NULL", "new NULL key");
    expect(hm_client_new(key, NULL, NULL), HM_ERR_INVALID_ARGUMENT, "out: must not be NULL", "new NULL out");
    expect(hm_config_set(NULL, "endpoint", "x"), HM_ERR_INVALID_ARGUMENT, "config: must not be NULL", "config NULL");
    expect(hm_config_set_delivery_callback(NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT, "config: must not be NULL",
           "delivery callback NULL config");
    expect(hm_config_set_log_callback(NULL, NULL, 0, NULL), HM_ERR_INVALID_ARGUMENT, "config: must not be NULL",
           "log callback NULL config");
    hm_client_free(NULL);
    hm_config_free(NULL);
    hm_string_free(NULL);
    CHECK(hm_delivery_endpoint(NULL) == NULL && hm_delivery_outcome(NULL) == -1 && hm_delivery_status(NULL) == 0 &&
              hm_delivery_attempts(NULL) == 0 && hm_delivery_body(NULL) == NULL && hm_delivery_message(NULL) == NULL,
          "delivery getters are NULL-safe");
}

static void test_client_creation(void) {
    hm_client *client = NULL;
    const char *secret = "sk_live_not_a_himetrica_key_12345";
    hm_status status = hm_client_new(secret, NULL, &client);
    expect(status, HM_ERR_INVALID_ARGUMENT,
           "secretKey: must be a Himetrica secret key (hm_sk_ followed by letters, digits, '_' or '-')", "bad key");
    CHECK(client == NULL, "no client on failure");
    CHECK(strstr(hm_last_error(), secret) == NULL, "the error never shows the key");

    hm_config *config = hm_config_new();
    expect(hm_config_set(config, "no_such_option", "1"), HM_ERR_INVALID_ARGUMENT,
           "no_such_option: is not a known option", "unknown option");
    /* The name is the caller's text: shown escaped (control characters, quotes, backslashes)
     * and cut after 64 characters, so the message stays one short line. */
    char long_name[4096];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memcpy(long_name, "a\nb\"c\\d\te", 9);
    expect(hm_config_set(config, long_name, "1"), HM_ERR_INVALID_ARGUMENT,
           "a\\nb\\\"c\\\\d\\te" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…: is not a known option",
           "unknown option with control characters and quotes, 4095 bytes long");
    expect(hm_config_set(config, long_name, NULL), HM_ERR_INVALID_ARGUMENT,
           "a\\nb\\\"c\\\\d\\te" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…: must not be NULL",
           "NULL value for such a name");
    expect(hm_config_set(config, "max_in_flight", "zero"), HM_ERR_INVALID_ARGUMENT, "max_in_flight: must be an integer",
           "bad integer");
    expect(hm_config_set(config, "max_in_flight", "0"), HM_ERR_INVALID_ARGUMENT,
           "max_in_flight: must be between 1 and 256", "out of range");
    expect(hm_config_set(config, "rate_limit_track", "fast"), HM_ERR_INVALID_ARGUMENT,
           "rate_limit_track: must be COUNT/SECONDS (e.g. 1000/60) or none", "bad rate limit");
    expect(hm_config_set(config, "endpoint", "http://example.com/api/v1"), HM_ERR_INVALID_ARGUMENT,
           "endpoint: http:// is only allowed to a loopback host (set allow_insecure_http to override)",
           "plain http to a remote host");
    expect(hm_config_set(config, "endpoint", NULL), HM_ERR_INVALID_ARGUMENT, "endpoint: must not be NULL", "NULL value");
    expect(hm_config_set(config, "rate_limit_track", "none"), HM_OK, NULL, "no track limit");
    expect(hm_config_set(config, "endpoint", endpoint), HM_OK, NULL, "endpoint");
    client = new_client(config);
    hm_config_free(config);
    hm_client_free(client);
}

static void test_bad_input(hm_client *c) {
    char big[11 * 1024 + 64];
    strcpy(big, "{\"blob\":\"");
    memset(big + 9, 'x', 11 * 1024);
    strcpy(big + 9 + 11 * 1024, "\"}");

    expect(hm_track(c, NULL, NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "eventName: must not be NULL", "NULL event name");
    expect(hm_track(c, "signup", NULL, NULL, NULL, NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "identity: one of userId, email or visitorId is required", "no identity");
    expect(hm_track(c, "signup", NULL, "a@b.c", "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "identity: give only one of userId, email or visitorId", "two identities");
    expect(hm_track(c, "sign up", NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "eventName: may contain only letters, digits, '_' and '-'", "space in event name");
    expect(hm_track(c, "", NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "eventName: must not be empty", "empty event name");
    expect(hm_track(c, "caf\xc3\xa9", NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "eventName: may contain only letters, digits, '_' and '-'", "unicode event name");
    expect(hm_track(c, "bad\xff", NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "eventName: must be valid UTF-8", "invalid UTF-8 event name");
    expect(hm_track(c, "signup", NULL, NULL, "v\xc3", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "visitorId: must be valid UTF-8", "invalid UTF-8 visitor id");
    expect(hm_track(c, "signup", NULL, NULL, "v1\r\nX-Injected: 1", NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "visitorId: must not contain control characters", "CR/LF in visitor id");
    expect(hm_track(c, "signup", NULL, "jane\n@example.com", NULL, NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "email: must not contain control characters", "LF in email");
    expect(hm_track(c, "signup", "usr_123", NULL, NULL, NULL, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "userId: must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId", "foreign user id");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "[1,2]", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties: must be a JSON object", "array properties");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "\"text\"", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties: must be a JSON object", "string properties");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "{\"a\":1,}", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties: is not valid JSON (expected a string key at byte 7)", "trailing comma");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "{\"a\":NaN}", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties.a: numbers must be finite (no NaN or Infinity)", "NaN");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "{\"a\":{\"b\":1,\"b\":2}}", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties.a.b: duplicate key", "duplicate key");
    expect(hm_track(c, "signup", NULL, NULL, "v1", "{\"a\":\"\xff\"}", NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties.a: must be valid UTF-8", "invalid UTF-8 in properties");
    expect(hm_track(c, "signup", NULL, NULL, "v1", big, NULL, NULL), HM_ERR_INVALID_ARGUMENT,
           "properties: must be at most 10240 bytes as compact JSON", "11 KB properties");
    expect(hm_track(c, "signup", NULL, NULL, "v1", NULL, "yesterday", NULL), HM_ERR_INVALID_ARGUMENT,
           "timestamp: must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z", "bad timestamp");
    expect(hm_track(c, "signup", NULL, NULL, "v1", NULL, NULL, "old"), HM_ERR_INVALID_ARGUMENT,
           "session: must be \"latest\" or \"new\" (or omitted)", "bad session");
    expect(hm_identify(c, NULL, NULL, "v1", NULL), HM_ERR_INVALID_ARGUMENT, "traits: is required", "no traits");
    expect(hm_identify(c, NULL, NULL, "v1", "[]"), HM_ERR_INVALID_ARGUMENT, "traits: must be a JSON object",
           "array traits");
    expect(hm_identify(c, NULL, NULL, "v1", "{\"email\":42}"), HM_ERR_INVALID_ARGUMENT, "traits.email: must be a string",
           "numeric email trait");
    char *out = (char *)"untouched";
    expect(hm_user_id(c, "", 1000, &out), HM_ERR_INVALID_ARGUMENT, "visitorId: must not be empty", "empty visitor");
    CHECK(out == NULL, "out_user_id is cleared on failure");
    expect(hm_user_id(c, NULL, 1000, &out), HM_ERR_INVALID_ARGUMENT, "visitorId: must not be NULL", "NULL visitor");
    uint64_t value;
    expect(hm_stats_get(c, 42, &value), HM_ERR_INVALID_ARGUMENT, "stat: must be an hm_stat value", "bad stat");
    uint64_t queued = 1;
    hm_stats_get(c, HM_STAT_QUEUED, &queued);
    CHECK(queued == 0, "nothing was queued by bad input (queued = %llu)", (unsigned long long)queued);
}

struct outcomes { int delivered, rejected, other; int last_status; };

static void on_delivery(const hm_delivery *d, void *user) {
    struct outcomes *o = user;
    if (hm_delivery_outcome(d) == HM_DELIVERED) o->delivered++;
    else if (hm_delivery_outcome(d) == HM_REJECTED) o->rejected++;
    else o->other++;
    o->last_status = hm_delivery_status(d);
    if (!hm_delivery_body(d) || !hm_delivery_endpoint(d) || hm_delivery_attempts(d) < 1) o->other += 1000;
}

static void test_delivery(void) {
    free(dev_get(dev_url, "/_dev/reset"));
    struct outcomes o = {0};
    hm_config *config = local_config();
    expect(hm_config_set_delivery_callback(config, on_delivery, &o), HM_OK, NULL, "set delivery callback");
    hm_client *c = new_client(config);
    hm_config_free(config);

    test_bad_input(c);

    expect(hm_identify(c, NULL, NULL, "c-visitor-1",
                       "{\"name\":\"Jane\",\"email\":\"jane.c@example.com\",\"userId\":\"ext-1\",\"plan\":\"pro\"}"),
           HM_OK, NULL, "identify by visitor");
    expect(hm_track(c, "invoice_paid", NULL, "jane.c@example.com", NULL, "{\"amount\": 99.99, \"currency\": \"USD\"}",
                    NULL, NULL),
           HM_OK, NULL, "track by email right after identify");
    expect(hm_track(c, "webhook_received", NULL, NULL, "c-visitor-1", "{\"source\":\"stripe\"}",
                    "2026-01-31T12:00:00Z", "new"),
           HM_OK, NULL, "track with timestamp and session");
    char *user_id = NULL;
    expect(hm_user_id(c, "c-visitor-1", 5000, &user_id), HM_OK, NULL, "user id");
    CHECK(user_id && strncmp(user_id, "hm_usr_", 7) == 0, "user id looks like hm_usr_: %s", user_id);
    char *again = NULL;
    expect(hm_user_id(c, "c-visitor-1", 5000, &again), HM_OK, NULL, "user id again (cached)");
    CHECK(user_id && again && strcmp(user_id, again) == 0, "stable user id");
    expect(hm_track(c, "email_opened", user_id, NULL, NULL, NULL, NULL, "latest"), HM_OK, NULL, "track by user id");
    expect(hm_identify(c, user_id, NULL, NULL, "{\"company\":\"Acme\"}"), HM_OK, NULL, "identify by user id");
    hm_string_free(user_id);
    hm_string_free(again);

    uint64_t pending = 99;
    expect(hm_flush(c, 10000, &pending), HM_OK, NULL, "flush");
    CHECK(pending == 0, "nothing pending after flush (%llu)", (unsigned long long)pending);
    CHECK(o.delivered == 5 && o.rejected == 0 && o.other == 0, "callback: %d delivered, %d rejected, %d other",
          o.delivered, o.rejected, o.other);
    uint64_t delivered = 0, queued = 0;
    hm_stats_get(c, HM_STAT_DELIVERED, &delivered);
    hm_stats_get(c, HM_STAT_QUEUED, &queued);
    CHECK(delivered == 5 && queued == 5, "stats: %llu delivered of %llu queued", (unsigned long long)delivered,
          (unsigned long long)queued);
    hm_stats s = snapshot(c);
    CHECK(s.queued == 5 && s.delivered == 5 && s.in_flight == 0 && s.queue_depth == 0 && balanced(&s),
          "snapshot: %llu queued, %llu delivered", (unsigned long long)s.queued, (unsigned long long)s.delivered);
    test_snapshot_sizes(c);

    char *events = dev_get(dev_url, "/_dev/events");
    CHECK(occurrences(events, "\"seq\"") == 5, "the dev server accepted 5 requests: %s", events);
    CHECK(occurrences(events, "invoice_paid") == 1 && occurrences(events, "webhook_received") == 1, "each event once");
    CHECK(strstr(events, "\"timestamp\":\"2026-01-31T12:00:00Z\"") != NULL, "given timestamp kept");
    free(events);

    expect(hm_shutdown(c, 5000, &pending), HM_OK, NULL, "shutdown");
    expect(hm_shutdown(c, 5000, &pending), HM_OK, NULL, "second shutdown");
    expect(hm_track(c, "late", NULL, NULL, "v1", NULL, NULL, NULL), HM_ERR_SHUT_DOWN, "the client has been shut down",
           "track after shutdown");
    hm_client_free(c);
}

struct logs { int lines; int leaked; const char *secret; };

static void on_log(int32_t level, const char *message, void *user) {
    struct logs *l = user;
    if (level >= HM_LOG_WARNING) l->lines++;
    if (strstr(message, l->secret)) l->leaked++;
}

static void test_wrong_key(void) {
    const char *wrong = "hm_sk_wrong_key_not_accepted_9999";
    struct outcomes o = {0};
    struct logs l = {0, 0, wrong};
    hm_config *config = local_config();
    hm_delivery_callback delivery_callback = on_delivery; /* the typedefs are the functions' types */
    hm_log_callback log_callback = on_log;
    hm_config_set_delivery_callback(config, delivery_callback, &o);
    hm_config_set_log_callback(config, log_callback, HM_LOG_WARNING, &l);
    hm_client *c = NULL;
    expect(hm_client_new(wrong, config, &c), HM_OK, NULL, "client with a wrong key");
    hm_config_free(config);
    for (int i = 0; i < 3; i++) hm_track(c, "signup", NULL, NULL, "v-wrong", NULL, NULL, NULL);
    expect(hm_flush(c, 5000, NULL), HM_OK, NULL, "flush with a wrong key");
    CHECK(o.rejected == 3 && o.last_status == 401, "each request rejected once with 401 (%d, %d)", o.rejected,
          o.last_status);
    uint64_t retried = 9;
    hm_stats_get(c, HM_STAT_RETRIED, &retried);
    CHECK(retried == 0, "a 401 is never retried");
    CHECK(l.lines == 1, "one loud log line for the 401 (%d)", l.lines);
    CHECK(l.leaked == 0, "no log line shows the key");
    char *user_id = NULL;
    expect(hm_user_id(c, "v-wrong", 5000, &user_id), HM_ERR_UNAUTHORIZED, "the secret key was refused (401)",
           "user id with a wrong key");
    hm_client_free(c);
}

static void test_queue_full(void) {
    hm_config *config = local_config();
    hm_config_set(config, "queue_capacity", "2");
    hm_client *c = new_client(config);
    hm_config_free(config);
    int full = 0, unbalanced = 0;
    for (int i = 0; i < 50; i++) {
        hm_status s = hm_track(c, "burst", NULL, NULL, "v-burst", NULL, NULL, NULL);
        if (s == HM_ERR_QUEUE_FULL) full++;
        hm_stats now = snapshot(c);
        if (!balanced(&now)) unbalanced++;
    }
    CHECK(unbalanced == 0, "every snapshot taken while sending balances (%d did not)", unbalanced);
    CHECK(full > 0, "a full queue refuses calls (%d refused)", full);
    uint64_t dropped = 0;
    hm_stats_get(c, HM_STAT_DROPPED, &dropped);
    CHECK(dropped == (uint64_t)full, "each refusal is counted as dropped (%llu vs %d)", (unsigned long long)dropped, full);
    hm_shutdown(c, 5000, NULL);
    hm_client_free(c);
}

/* A program that exits with requests still queued: the library's atexit flush sends what it can
 * within exit_flush_timeout and reports the rest in one line. Run in a child that exits. */
static int exit_line_fd = -1;

static void on_exit_log(int32_t level, const char *message, void *user) {
    (void)level;
    (void)user;
    if (strstr(message, "not delivered")) dprintf(exit_line_fd, "%s\n", message);
}

static void test_exit_line(void) {
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        exit_line_fd = fds[1];
        hm_config *config = local_config();
        hm_config_set(config, "rate_limit_track", "5/60"); /* 5 leave, 15 cannot within 0.5 s */
        hm_config_set(config, "exit_flush_timeout", "0.5");
        hm_config_set_log_callback(config, on_exit_log, 4, NULL);
        hm_client *c = new_client(config);
        hm_config_free(config);
        for (int i = 0; i < 20; i++) {
            char visitor[32];
            snprintf(visitor, sizeof visitor, "v-exit-%d", i);
            hm_track(c, "exiting", NULL, NULL, visitor, NULL, NULL, NULL);
        }
        exit(0); /* no flush, no shutdown, no free */
    }
    close(fds[1]);
    char lines[1024] = {0};
    size_t used = 0;
    ssize_t n;
    while (used < sizeof lines - 1 && (n = read(fds[0], lines + used, sizeof lines - 1 - used)) > 0) used += (size_t)n;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the exiting child ended normally (status %d)", status);
    CHECK(strcmp(lines, "15 requests were not delivered before exit (exit_flush_timeout 0.5 s); set the spool "
                        "option to keep them across restarts\n") == 0,
          "one line for what the exit left undelivered, got \"%s\"", lines);
}

int main(void) {
    key = getenv("HIMETRICA_SECRET_KEY");
    endpoint = getenv("HIMETRICA_ENDPOINT");
    const char *url = getenv("HIMETRICA_DEV_URL");
    if (!key || !endpoint || !url) {
        fprintf(stderr, "run through scripts/with-devserver.sh\n");
        return 2;
    }
    snprintf(dev_url, sizeof dev_url, "%s", url);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    test_version();
    test_stat_layout();
    test_secret_key_masked();
    test_static_strings();
    test_null_arguments();
    test_client_creation();
    test_delivery();
    test_wrong_key();
    test_queue_full();
    test_exit_line();

    return finish();
}
