/* The shared validation vectors (Tests/vectors/invalid.json) through the C API: every case
 * must fail with HM_ERR_INVALID_ARGUMENT and exactly its message in hm_last_error(), and queue
 * nothing; every valid case must be accepted (HM_OK). Runs against a dev server
 * (scripts/with-devserver.sh) because the valid user-id lookups go over the network.
 *
 *   test_vectors [path/to/invalid.json]   (default: Tests/vectors/invalid.json of the repo)
 *
 * "Hex" members carry raw bytes (invalid UTF-8); they are passed as given. A C string cannot
 * hold NUL, so an argument with an embedded NUL (plain or hex) is passed with each NUL replaced
 * by U+0001, exactly as the Python and Node bindings do: every rule treats both as a control
 * character at the same place, so the message is the same. Such cases are counted and
 * listed. Prints "N passed, N failed" last. */
#include "himetrica.h"
#include "check.h"
#include "minijson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int substituted;


enum { EVENT_NAME, USER_ID, EMAIL, VISITOR_ID, PROPERTIES, TIMESTAMP, SESSION, TRAITS, N_ARGS };
static const char *const NAMES[N_ARGS] = {"eventName", "userId", "email", "visitorId",
                                          "properties", "timestamp", "session", "traits"};

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Fills args[] (NUL-terminated copies, or NULL when absent) from a case's "args" object.
 * Returns 0 when the object has a member this runner does not know. */
static int read_args(const mj_value *object, char *args[N_ARGS], int *had_nul) {
    *had_nul = 0;
    for (size_t i = 0; i < object->length; i++) {
        const char *key = object->keys[i];
        const mj_value *value = object->items[i];
        size_t key_length = strlen(key);
        int hex = key_length > 3 && strcmp(key + key_length - 3, "Hex") == 0;
        int which = -1;
        for (int n = 0; n < N_ARGS; n++)
            if (strncmp(key, NAMES[n], hex ? key_length - 3 : key_length) == 0 &&
                strlen(NAMES[n]) == (hex ? key_length - 3 : key_length))
                which = n;
        if (which < 0 || value->type != MJ_STRING) return 0;
        size_t length = hex ? value->length / 2 : value->length;
        char *bytes = malloc(length + 1);
        if (!bytes) return 0;
        for (size_t b = 0; b < length; b++) {
            if (hex) {
                int hi = hex_value(value->string[2 * b]), lo = hex_value(value->string[2 * b + 1]);
                if (hi < 0 || lo < 0) { free(bytes); return 0; }
                bytes[b] = (char)(hi * 16 + lo);
            } else {
                bytes[b] = value->string[b];
            }
            if (bytes[b] == 0) { bytes[b] = 1; *had_nul = 1; }
        }
        bytes[length] = 0;
        free(args[which]);
        args[which] = bytes;
    }
    return 1;
}

/* Runs one call; returns its status, and for a user-id lookup frees the answer. */
static hm_status run(hm_client *client, const char *call, char *const args[N_ARGS]) {
    if (strcmp(call, "track") == 0)
        return hm_track(client, args[EVENT_NAME], args[USER_ID], args[EMAIL], args[VISITOR_ID], args[PROPERTIES],
                        args[TIMESTAMP], args[SESSION]);
    if (strcmp(call, "identify") == 0)
        return hm_identify(client, args[USER_ID], args[EMAIL], args[VISITOR_ID], args[TRAITS]);
    char *user_id = NULL;
    hm_status status = hm_user_id(client, args[VISITOR_ID], 5000, &user_id);
    hm_string_free(user_id);
    return status;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../vectors/invalid.json";
    const char *key = getenv("HIMETRICA_SECRET_KEY");
    const char *endpoint = getenv("HIMETRICA_ENDPOINT");
    if (!key || !endpoint) {
        fprintf(stderr, "run through scripts/with-devserver.sh\n");
        return 2;
    }
    size_t length = 0;
    char *text = mj_read_file(path, &length);
    mj_value *root = text ? mj_parse(text, length) : NULL;
    free(text);
    const mj_value *cases = mj_get(root, "cases"), *valid = mj_get(root, "valid");
    if (!cases || cases->type != MJ_ARRAY || !valid || valid->type != MJ_ARRAY) {
        fprintf(stderr, "cannot read %s\n", path);
        return 2;
    }

    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", endpoint);
    hm_config_set(config, "rate_limit_track", "none");
    hm_config_set(config, "rate_limit_identify", "none");
    hm_client *client = NULL;
    if (hm_client_new(key, config, &client) != HM_OK) {
        fprintf(stderr, "hm_client_new: %s\n", hm_last_error());
        return 2;
    }
    hm_config_free(config);

    int calls[2] = {0, 0}; /* cases, valid cases run */
    for (int set = 0; set < 2; set++) {
        const mj_value *list = set == 0 ? cases : valid;
        for (size_t i = 0; i < list->length; i++) {
            const mj_value *c = list->items[i];
            const char *name = mj_string_of(c, "name"), *call = mj_string_of(c, "call");
            const char *want = mj_string_of(c, "error");
            const mj_value *object = mj_get(c, "args");
            char *args[N_ARGS] = {0};
            int had_nul = 0;
            if (!name || !call || !object || object->type != MJ_OBJECT || !read_args(object, args, &had_nul) ||
                (set == 0 && !want)) {
                CHECK(0, "case %zu (%s): cannot read it", i, name ? name : "?");
                continue;
            }
            if (had_nul) {
                substituted++;
                printf("NUL passed as U+0001: %s\n", name);
            }
            calls[set]++;
            hm_status status = run(client, call, args);
            const char *error = hm_last_error();
            if (set == 0) {
                CHECK(status == HM_ERR_INVALID_ARGUMENT && error && strcmp(error, want) == 0,
                      "%s: got %s \"%s\", want \"%s\"", name, hm_status_name(status), error ? error : "(none)", want);
            } else {
                CHECK(status == HM_OK, "%s (valid): got %s \"%s\"", name, hm_status_name(status),
                      error ? error : "(none)");
            }
            for (int n = 0; n < N_ARGS; n++) free(args[n]);
            if (set == 0) {
                /* Invalid input queues nothing. */
                uint64_t queued = 0;
                hm_stats_get(client, HM_STAT_QUEUED, &queued);
                CHECK(queued == 0, "%s: queued %llu requests", name, (unsigned long long)queued);
            }
        }
    }
    uint64_t queued = 0;
    hm_stats_get(client, HM_STAT_QUEUED, &queued);
    int requests = 0;
    for (size_t i = 0; i < valid->length; i++)
        if (strcmp(mj_string_of(valid->items[i], "call"), "userId") != 0) requests++;
    CHECK(queued == (uint64_t)requests, "every valid track/identify queued: %llu of %d", (unsigned long long)queued,
          requests);
    uint64_t pending = 1;
    CHECK(hm_shutdown(client, 10000, &pending) == HM_OK && pending == 0, "shutdown delivered everything");
    hm_client_free(client);
    mj_free(root);

    printf("vectors: %d invalid cases, %d valid cases, %d with NUL passed as U+0001\n", calls[0], calls[1],
           substituted);
    return finish();
}
