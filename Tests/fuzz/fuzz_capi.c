/* libFuzzer target for the C entry points: hm_track, hm_identify, hm_user_id, hm_config_set
 * and hm_secret_key_masked with fuzzed strings (built with clang -fsanitize=fuzzer,address by
 * Tests/fuzz/run.sh, against libhimetrica).
 *
 * Input: byte 0 = the call (low 2 bits: 0 track, 1 identify, 2 user_id, 3 config_set) and
 * which arguments are NULL (bits 2-7, one per argument in the order eventName, userId, email,
 * visitorId, properties, timestamp); the rest is split at 0x00 into the arguments eventName,
 * userId, email, visitorId, properties, timestamp, session, traits (config_set: name, value).
 * Each argument is its own exact-size heap copy, so reading past its NUL is caught.
 *
 * The client's endpoint is a loopback port nobody listens on (127.0.0.1:1) and its rate
 * limits allow one request a day, so the fuzzer sends nothing: every call is validated, and
 * valid ones queue until the queue is full (then HM_ERR_QUEUE_FULL, also checked). */
#define _GNU_SOURCE /* memmem */
#include "himetrica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hm_client *client;
static int input_has_key; /* the key in the input itself may be echoed (e.g. an option name) */
static const char *const KEY = "hm_sk_fuzz_secret_0123456789";

static void quiet(int32_t level, const char *message, void *user) {
    (void)level;
    (void)user;
    if (message && strstr(message, KEY)) {
        fprintf(stderr, "the secret key appeared in a log line\n");
        abort();
    }
}

static void setup(void) {
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", "http://127.0.0.1:1/api/v1");
    hm_config_set(config, "rate_limit_track", "1/86400");
    hm_config_set(config, "rate_limit_identify", "1/86400");
    hm_config_set(config, "rate_limit_user_id", "1/86400");
    hm_config_set(config, "queue_capacity", "256");
    hm_config_set(config, "max_attempts", "1");
    hm_config_set(config, "exit_flush_timeout", "0");
    hm_config_set_log_callback(config, quiet, 0, NULL);
    if (hm_client_new(KEY, config, &client) != HM_OK) {
        fprintf(stderr, "hm_client_new: %s\n", hm_last_error());
        abort();
    }
    hm_config_free(config);
}

/* An error message is short, except that hm_config_set names an unknown option as given
 * (so it may be as long as the name): `echoed` is the length allowed for that. */
static void check_status_echo(hm_status status, size_t echoed) {
    const char *error = hm_last_error();
    if (status == HM_OK) {
        if (error != NULL) { fprintf(stderr, "an error message after HM_OK: %s\n", error); abort(); }
        return;
    }
    if (status != HM_ERR_INVALID_ARGUMENT && status != HM_ERR_QUEUE_FULL && status != HM_ERR_TIMEOUT &&
        status != HM_ERR_UNAVAILABLE) {
        fprintf(stderr, "unexpected status %d (%s)\n", status, hm_status_name(status));
        abort();
    }
    if (!error || !*error || strlen(error) > 4096 + echoed || (!input_has_key && strstr(error, KEY))) {
        fprintf(stderr, "bad error message for status %d: %s\n", status, error ? error : "(null)");
        abort();
    }
}

static void check_status(hm_status status) { check_status_echo(status, 0); }

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    if (!client) setup();
    unsigned char head = data[0];
    input_has_key = memmem(data, size, KEY, strlen(KEY)) != NULL;
    char *args[8] = {0};
    size_t start = 1;
    for (int i = 0; i < 8 && start <= size; i++) {
        size_t end = start;
        while (end < size && data[end] != 0) end++;
        args[i] = malloc(end - start + 1);
        memcpy(args[i], data + start, end - start);
        args[i][end - start] = 0;
        start = end + 1;
    }
    for (int i = 0; i < 6; i++)
        if (head & (1u << (i + 2))) { free(args[i]); args[i] = NULL; }

    switch (head & 3) {
    case 0:
        check_status(hm_track(client, args[0], args[1], args[2], args[3], args[4], args[5], args[6]));
        break;
    case 1:
        check_status(hm_identify(client, args[1], args[2], args[3], args[7] ? args[7] : args[4]));
        break;
    case 2: {
        char *user_id = (char *)"untouched";
        hm_status s = hm_user_id(client, args[3] ? args[3] : args[0], 0, &user_id);
        check_status(s);
        if (s != HM_OK && user_id != NULL) { fprintf(stderr, "out_user_id not cleared\n"); abort(); }
        hm_string_free(s == HM_OK ? user_id : NULL);
        break;
    }
    default: {
        hm_config *config = hm_config_new();
        hm_status s = hm_config_set(config, args[0], args[1]);
        if (s != HM_OK && s != HM_ERR_INVALID_ARGUMENT) abort();
        check_status_echo(s, args[0] ? strlen(args[0]) : 0);
        hm_config_free(config);
        /* Any bytes as a key: the masked form is hm_sk_ and an ellipsis first, NULL only for NULL. */
        char *masked = hm_secret_key_masked(args[2]);
        if ((args[2] != NULL) != (masked != NULL) || (masked && strncmp(masked, "hm_sk_\xe2\x80\xa6", 9) != 0)) {
            fprintf(stderr, "bad masked key: %s\n", masked ? masked : "(null)");
            abort();
        }
        hm_string_free(masked);
        break;
    }
    }
    for (int i = 0; i < 8; i++) free(args[i]);
    return 0;
}
