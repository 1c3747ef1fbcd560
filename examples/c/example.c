/* A short program using the Himetrica C API: track an event, identify the visitor, resolve
 * the visitor's user id, and wait for delivery before exiting.
 *
 *   cc example.c $(pkg-config --cflags --libs himetrica) -o example
 *   HIMETRICA_SECRET_KEY=hm_sk_... HIMETRICA_ENDPOINT=https://app.himetrica.com/api/v1 ./example
 */
#include <himetrica.h>
#include <stdio.h>
#include <stdlib.h>

static int check(hm_status status, const char *what) {
    if (status != HM_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, hm_status_name(status), hm_last_error());
        return 1;
    }
    return 0;
}

int main(void) {
    /* The library must be at least as new as the header this was compiled with. */
    if (hm_version_number() < HM_VERSION_NUM) {
        fprintf(stderr, "libhimetrica %s is older than its header (%s)\n", hm_version(), HM_VERSION);
        return 1;
    }
    const char *key = getenv("HIMETRICA_SECRET_KEY");
    const char *endpoint = getenv("HIMETRICA_ENDPOINT");
    hm_config *config = hm_config_new();
    if (endpoint && check(hm_config_set(config, "endpoint", endpoint), "endpoint")) return 1;

    hm_client *client = NULL;
    hm_status status = hm_client_new(key, config, &client);
    hm_config_free(config);
    if (check(status, "hm_client_new")) return 1;

    const char *visitor = "c-example-visitor-1";
    int failed = 0;
    failed |= check(hm_identify(client, NULL, NULL, visitor,
                                "{\"name\":\"Jane Doe\",\"email\":\"jane@example.com\",\"plan\":\"pro\"}"),
                    "hm_identify");
    failed |= check(hm_track(client, "invoice_paid", NULL, "jane@example.com", NULL,
                             "{\"amount\":99.99,\"currency\":\"USD\"}", NULL, NULL),
                    "hm_track");

    char *user_id = NULL;
    if (!check(hm_user_id(client, visitor, 5000, &user_id), "hm_user_id")) {
        printf("visitor %s is user %s\n", visitor, user_id);
        failed |= check(hm_track(client, "subscription_renewed", user_id, NULL, NULL,
                                 "{\"plan\":\"pro\"}", NULL, "latest"),
                        "hm_track");
        hm_string_free(user_id);
    } else {
        failed = 1;
    }

    uint64_t pending = 0;
    failed |= check(hm_shutdown(client, 10000, &pending), "hm_shutdown");
    hm_stats stats = {.size = sizeof stats};
    hm_stats_snapshot(client, &stats);
    printf("delivered %llu requests, %llu left\n", (unsigned long long)stats.delivered, (unsigned long long)pending);
    hm_client_free(client);
    return failed;
}
