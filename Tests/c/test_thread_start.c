/* A flush thread the system refuses to start is an error the caller sees, not a call queued
 * for nobody: the process's address space is capped (setrlimit(RLIMIT_AS)) just above what it
 * uses, so the 8 MB stack of a new thread cannot be mapped and pthread_create fails with
 * EAGAIN, while the few small allocations of a call still fit. Then the cap is lifted and the
 * same client works. Runs against a dev server (scripts/with-devserver.sh). */
#include "himetrica.h"
#include "check.h"
#include "procstatus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct logs { int errors; char last[256]; };

static void on_log(int32_t level, const char *message, void *user) {
    struct logs *l = user;
    if (level == HM_LOG_ERROR) {
        l->errors++;
        snprintf(l->last, sizeof l->last, "%s", message);
    }
}

static struct rlimit original;

/* Caps the address space at what the process maps now plus 2 MB. */
static int cap_address_space(void) {
    long kb = status_kb("VmSize:");
    struct rlimit low = {(rlim_t)(kb + 2048) * 1024, original.rlim_max};
    return kb > 0 && setrlimit(RLIMIT_AS, &low) == 0;
}

static void lift_cap(void) { setrlimit(RLIMIT_AS, &original); }

static hm_stats snapshot(hm_client *c) {
    hm_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    hm_stats_snapshot(c, &s);
    return s;
}

int main(void) {
    const char *key = getenv("HIMETRICA_SECRET_KEY"), *endpoint = getenv("HIMETRICA_ENDPOINT");
    if (!key || !endpoint) {
        fprintf(stderr, "run through scripts/with-devserver.sh\n");
        return 2;
    }
    getrlimit(RLIMIT_AS, &original);
    struct logs logs = {0, ""};
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", endpoint);
    hm_config_set_log_callback(config, on_log, HM_LOG_WARNING, &logs);
    hm_client *client = NULL;
    CHECK(hm_client_new(key, config, &client) == HM_OK, "hm_client_new: %s", hm_last_error());
    hm_config_free(config);

    const char *want = "could not start the flush thread (pthread_create: Resource temporarily unavailable)";
    char error[256] = "";
    CHECK(cap_address_space(), "setrlimit(RLIMIT_AS)");
    hm_status status = hm_track(client, "thread_start", NULL, NULL, "v-thread", NULL, NULL, NULL);
    snprintf(error, sizeof error, "%s", hm_last_error() ? hm_last_error() : "(none)");
    char *user_id = NULL;
    hm_status lookup = hm_user_id(client, "v-thread", 2000, &user_id);
    lift_cap();

    CHECK(status == HM_ERR_SYSTEM, "track without a thread: status %d (%s), want HM_ERR_SYSTEM", status,
          hm_status_name(status));
    CHECK(strcmp(error, want) == 0, "its message: \"%s\"", error);
    CHECK(lookup == HM_ERR_SYSTEM && user_id == NULL, "user id without a thread: status %d, want HM_ERR_SYSTEM", lookup);
    CHECK(logs.errors == 2 && strcmp(logs.last, want) == 0, "logged at HM_LOG_ERROR (%d): \"%s\"", logs.errors,
          logs.last);
    hm_stats s = snapshot(client);
    CHECK(s.queued == 0 && s.queue_depth == 0, "nothing was queued (%llu queued)", (unsigned long long)s.queued);
    uint64_t pending = 99;
    CHECK(hm_flush(client, 2000, &pending) == HM_OK && pending == 0, "a flush has nothing to wait for");

    /* With room again, the same client starts its thread and delivers. */
    CHECK(hm_track(client, "thread_start", NULL, NULL, "v-thread", NULL, NULL, NULL) == HM_OK, "track: %s",
          hm_last_error());
    CHECK(hm_flush(client, 10000, &pending) == HM_OK && pending == 0, "flush after the cap is lifted");
    s = snapshot(client);
    CHECK(s.queued == 1 && s.delivered == 1, "delivered once the thread could start (%llu of %llu)",
          (unsigned long long)s.delivered, (unsigned long long)s.queued);
    hm_client_free(client);
    return finish();
}
