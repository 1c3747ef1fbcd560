/* A flush thread held inside a delivery callback (issue 12): hm_flush, hm_user_id, hm_shutdown
 * and hm_client_free each end by their own deadline (plus a fraction of a second) with the
 * right pending count, and once hm_client_free has returned the thread never calls the
 * callback again, even when it is let go and drops what it held (the user data may be gone).
 * hm_prepare_fork waits 1 s at most for a thread held in its callback.
 *
 *   scripts/with-devserver.sh -- ./test_held_callback */
#include "himetrica.h"
#include "check.h"
#include "timing.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { EVENTS = 10 };

static int release_pipe[2];
static atomic_int calls;
static atomic_int calls_after_free;
static atomic_int freed;

/* The first call blocks until the test writes to release_pipe. */
static void on_delivery(const hm_delivery *delivery, void *user_data) {
    (void)delivery;
    (void)user_data;
    if (atomic_load(&freed)) atomic_fetch_add(&calls_after_free, 1);
    if (atomic_fetch_add(&calls, 1) == 0) {
        char byte;
        while (read(release_pipe[0], &byte, 1) < 0) {}
    }
}

int main(void) {
    if (pipe(release_pipe) != 0) return 2;
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", getenv("HIMETRICA_ENDPOINT"));
    hm_config_set(config, "max_in_flight", "1"); /* one answer per poll: one outcome before the hold */
    hm_config_set(config, "rate_limit_track", "none");
    hm_config_set(config, "exit_flush_timeout", "0.3");
    hm_config_set_delivery_callback(config, on_delivery, NULL);
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) return 2;
    hm_config_free(config);

    for (int i = 0; i < EVENTS; i++) {
        char visitor[32];
        snprintf(visitor, sizeof visitor, "held-%d", i);
        hm_track(client, "held", NULL, NULL, visitor, NULL, NULL, NULL);
    }
    double deadline = now_seconds() + 10;
    while (atomic_load(&calls) == 0 && now_seconds() < deadline) sleep_ms(1);
    CHECK(atomic_load(&calls) == 1, "the flush thread is inside the callback");

    uint64_t pending = 0;
    double start = now_seconds();
    hm_status status = hm_flush(client, 300, &pending);
    double took = now_seconds() - start;
    CHECK(status == HM_ERR_TIMEOUT && pending == EVENTS - 1, "hm_flush: status %d, %llu pending", status,
          (unsigned long long)pending);
    CHECK(took >= 0.29 && took < 0.9, "hm_flush ended by its deadline (%.3f s)", took);

    char *user_id = NULL;
    start = now_seconds();
    status = hm_user_id(client, "held-0", 300, &user_id);
    took = now_seconds() - start;
    CHECK(status == HM_ERR_TIMEOUT && user_id == NULL, "hm_user_id timed out (status %d)", status);
    CHECK(took < 0.9, "hm_user_id ended by its deadline (%.3f s)", took);

    /* hm_prepare_fork waits for the flush thread to leave its callback, 1 s at most. */
    start = now_seconds();
    status = hm_prepare_fork();
    took = now_seconds() - start;
    CHECK(status == HM_ERR_TIMEOUT && hm_last_error() != NULL, "hm_prepare_fork timed out (status %d)", status);
    CHECK(took >= 0.95 && took < 1.9, "hm_prepare_fork ended by its deadline (%.3f s)", took);

    pending = 0;
    start = now_seconds();
    status = hm_shutdown(client, 300, &pending);
    took = now_seconds() - start;
    CHECK(status == HM_ERR_TIMEOUT && pending == EVENTS - 1, "hm_shutdown: status %d, %llu pending", status,
          (unsigned long long)pending);
    CHECK(took >= 0.29 && took < 0.9, "hm_shutdown ended by its deadline (%.3f s)", took);

    start = now_seconds();
    hm_client_free(client);
    took = now_seconds() - start;
    CHECK(took < 0.9, "hm_client_free ended by its deadline (%.3f s)", took);
    atomic_store(&freed, 1);

    /* Let the thread go: it returns from the callback and drops the 9 it held, without calling
     * the callback again. */
    char byte = 1;
    CHECK(write(release_pipe[1], &byte, 1) == 1, "released the callback");
    sleep_ms(500);
    CHECK(atomic_load(&calls) == 1 && atomic_load(&calls_after_free) == 0,
          "no callback after hm_client_free (%d calls, %d after)", atomic_load(&calls), atomic_load(&calls_after_free));

    /* No flush thread inside a callback any more: nothing to wait for. */
    start = now_seconds();
    status = hm_prepare_fork();
    took = now_seconds() - start;
    CHECK(status == HM_OK && took < 0.5, "hm_prepare_fork with no callback under way (status %d, %.3f s)", status, took);
    return finish();
}
