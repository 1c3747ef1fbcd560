/* Fork stress (issue 12): fork() while the flush thread is busy, many times.
 *
 *   scripts/with-devserver.sh --no-limits --latency-ms 5-40 --error-rate 0.1 -- ./test_fork_stress [ROUNDS]
 *
 * Each round is a fresh process (this program re-executed with --round), so its first forks
 * come while the flush thread runs code paths for the first time (Swift metadata, libcurl,
 * connection set-up). A round process tracks events to distinct visitors (many requests in
 * flight over a server with added latency) and forks FORKS_PER_ROUND times: once right after
 * tracking, then after a delay that varies by round and fork. A tenth of the requests fail
 * with 503 and are retried, and identifies go with the tracks: more paths run for the first
 * time at fork moments. Every child tracks, resolves a
 * user id (a code path its new flush thread runs for the first time) and flushes with a 10 s
 * deadline; the round process flushes too. The driver bounds each round (ROUND_SECONDS; a round
 * that takes longer counts as hung and is killed), then checks on the dev server that every
 * parent and child event arrived exactly once. The closing lines give the counts. */
#include "himetrica.h"
#include "check.h"
#include "timing.h"
#include "devhttp.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FORKS_PER_ROUND = 4, EVENTS = 30, ROUND_SECONDS = 30, FLUSH_MS = 10000 };

/* Child exit statuses. */
enum { CHILD_OK = 0, CHILD_FLUSH_FAILED = 10, CHILD_FLUSH_LATE = 11, CHILD_LOOKUP_FAILED = 12, CHILD_INHERITED = 13 };

static atomic_long callbacks;

static void spin_us(int us) {
    double until = now_seconds() + us / 1e6;
    while (now_seconds() < until) {}
}

static void on_delivery(const hm_delivery *delivery, void *user_data) {
    (void)delivery;
    (void)user_data;
    atomic_fetch_add(&callbacks, 1);
}

/* Tracks EVENTS events tagged "r<round>f<fork><who><i>-", each to its own visitor, with an
 * identify now and then (another endpoint, other code paths). */
static void track_tagged(hm_client *client, int round, int fork_index, char who) {
    for (int i = 0; i < EVENTS; i++) {
        if (i % 10 == 5) {
            char visitor[64], traits[96];
            snprintf(visitor, sizeof visitor, "v-r%df%d%c%d", round, fork_index, who, i);
            snprintf(traits, sizeof traits, "{\"name\":\"r%df%d%c%d\"}", round, fork_index, who, i);
            hm_identify(client, NULL, NULL, visitor, traits);
        }
        char visitor[64], props[96];
        snprintf(visitor, sizeof visitor, "v-r%df%d%c%d", round, fork_index, who, i);
        snprintf(props, sizeof props, "{\"tag\":\"r%df%d%c%d-\"}", round, fork_index, who, i);
        if (hm_track(client, "fork_stress", NULL, NULL, visitor, props, NULL, NULL) != HM_OK) {
            fprintf(stderr, "track failed: %s\n", hm_last_error());
        }
    }
}

static int run_child(hm_client *client, int round, int fork_index) {
    uint64_t inherited = 99;
    hm_stats_get(client, HM_STAT_QUEUE_DEPTH, &inherited);
    track_tagged(client, round, fork_index, 'c');
    char visitor[64], *user_id = NULL;
    snprintf(visitor, sizeof visitor, "v-r%df%dc0", round, fork_index);
    hm_status lookup = hm_user_id(client, visitor, 5000, &user_id);
    hm_string_free(user_id);
    uint64_t pending = 99;
    double start = now_seconds();
    hm_status status = hm_flush(client, FLUSH_MS, &pending);
    double took = now_seconds() - start;
    hm_client_free(client);
    if (took > FLUSH_MS / 1000.0 + 0.5) return CHILD_FLUSH_LATE;
    if (status != HM_OK || pending != 0) return CHILD_FLUSH_FAILED;
    if (lookup != HM_OK) return CHILD_LOOKUP_FAILED;
    if (inherited != 0) return CHILD_INHERITED;
    return CHILD_OK;
}

/* One round: a fresh process that forks while busy. Writes one line per fork to `report`:
 * "<requests in flight at the fork> <child exit status> <microseconds fork() took>". */
static int run_round(int round, int report) {
    setpgid(0, 0); /* the driver kills the whole group if the round hangs */
    hm_config *config = hm_config_new();
    hm_config_set(config, "endpoint", getenv("HIMETRICA_ENDPOINT"));
    hm_config_set(config, "max_in_flight", "8");
    hm_config_set(config, "rate_limit_track", "none");
    hm_config_set(config, "rate_limit_user_id", "none");
    hm_config_set(config, "rate_limit_identify", "none");
    hm_config_set(config, "retry_base_delay", "0.01");
    hm_config_set(config, "retry_max_delay", "0.05");
    hm_config_set_delivery_callback(config, on_delivery, NULL);
    hm_client *client = NULL;
    if (hm_client_new(getenv("HIMETRICA_SECRET_KEY"), config, &client) != HM_OK) return 2;
    hm_config_free(config);

    pid_t children[FORKS_PER_ROUND];
    uint64_t in_flight[FORKS_PER_ROUND];
    double fork_took[FORKS_PER_ROUND];
    for (int f = 0; f < FORKS_PER_ROUND; f++) {
        track_tagged(client, round, f, 'p');
        /* The first fork comes within 0-0.5 ms of the first call, while the new flush thread
         * sets up its first requests (code paths run for the first time); the others after
         * 0-22 ms. Each round picks other moments. */
        if (f == 0) spin_us((round * 37) % 500);
        else sleep_ms((round * 7 + f * 13) % 23);
        in_flight[f] = 0;
        hm_stats_get(client, HM_STAT_IN_FLIGHT, &in_flight[f]);
        double before = now_seconds();
        pid_t pid = fork();
        if (pid == 0) _exit(run_child(client, round, f));
        fork_took[f] = now_seconds() - before;
        children[f] = pid;
    }
    int failures = 0;
    for (int f = 0; f < FORKS_PER_ROUND; f++) {
        int status = 0;
        if (children[f] < 0 || waitpid(children[f], &status, 0) < 0) status = -1;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        dprintf(report, "%llu %d %.0f\n", (unsigned long long)in_flight[f], code, fork_took[f] * 1e6);
        if (code != CHILD_OK) failures++;
    }
    uint64_t pending = 99;
    hm_status status = hm_flush(client, FLUSH_MS, &pending);
    hm_client_free(client);
    if (status != HM_OK || pending != 0) {
        fprintf(stderr, "round %d: the parent's flush: status %d, %llu pending\n", round, status, (unsigned long long)pending);
        failures++;
    }
    if (atomic_load(&callbacks) != FORKS_PER_ROUND * (EVENTS + EVENTS / 10)) {
        fprintf(stderr, "round %d: %ld delivery callbacks in the parent, expected %d\n", round, atomic_load(&callbacks),
                FORKS_PER_ROUND * (EVENTS + EVENTS / 10));
        failures++;
    }
    return failures ? 1 : 0;
}

/* Waits for `pid` at most `seconds`; kills its process group then. Returns its wait status, or
 * -1 when it hung. */
static int wait_bounded(pid_t pid, double seconds) {
    double deadline = now_seconds() + seconds;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_seconds() > deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(5);
    }
    return status;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--round") == 0) return run_round(atoi(argv[2]), atoi(argv[3]));
    const char *dev_url = getenv("HIMETRICA_DEV_URL");
    if (!dev_url) return 2;
    int rounds = argc > 1 ? atoi(argv[1]) : 13;
    int forks = 0, children_ok = 0, hung = 0, busy_forks = 0, expected = 0, arrived = 0, duplicated = 0;
    double slowest = 0, slowest_fork_us = 0, total_fork_us = 0;
    char *self = realpath("/proc/self/exe", NULL);
    for (int round = 0; round < rounds; round++) {
        int report[2];
        if (pipe(report) != 0) return 2;
        double start = now_seconds();
        pid_t pid = fork();
        if (pid == 0) {
            close(report[0]);
            char round_text[16], fd_text[16];
            snprintf(round_text, sizeof round_text, "%d", round);
            snprintf(fd_text, sizeof fd_text, "%d", report[1]);
            execl(self, self, "--round", round_text, fd_text, (char *)NULL);
            _exit(127);
        }
        close(report[1]);
        int status = wait_bounded(pid, ROUND_SECONDS);
        double took = now_seconds() - start;
        if (took > slowest) slowest = took;
        FILE *lines = fdopen(report[0], "r");
        unsigned long long in_flight;
        int code;
        double fork_us;
        while (fscanf(lines, "%llu %d %lf", &in_flight, &code, &fork_us) == 3) {
            forks++;
            total_fork_us += fork_us;
            if (fork_us > slowest_fork_us) slowest_fork_us = fork_us;
            if (in_flight > 0) busy_forks++;
            if (code == CHILD_OK) children_ok++;
            else fprintf(stderr, "round %d: a child exited with %d\n", round, code);
        }
        fclose(lines);
        if (status == -1) {
            hung++;
            fprintf(stderr, "round %d hung (killed after %d s)\n", round, ROUND_SECONDS);
        } else {
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d: status %d", round, status);
        }
        char *events = dev_get(dev_url, "/_dev/events");
        for (int f = 0; f < FORKS_PER_ROUND; f++) {
            for (int who = 0; who < 2; who++) {
                for (int i = 0; i < EVENTS; i++) {
                    char tag[64];
                    snprintf(tag, sizeof tag, "\"r%df%d%c%d-\"", round, f, who ? 'c' : 'p', i);
                    int n = occurrences(events, tag);
                    expected++;
                    if (n >= 1) arrived++;
                    if (n > 1) duplicated++;
                }
            }
        }
        free(events);
        free(dev_get(dev_url, "/_dev/reset"));
    }
    free(self);
    printf("fork stress: %d rounds, %d forks (%d with requests in flight), %d children flushed in time, "
           "%d rounds hung, events %d/%d arrived (%d more than once), slowest round %.2f s, "
           "fork() in the parent %.0f us on average, %.0f us at most\n",
           rounds, forks, busy_forks, children_ok, hung, arrived, expected, duplicated, slowest,
           forks ? total_fork_us / forks : 0.0, slowest_fork_us);
    CHECK(forks == rounds * FORKS_PER_ROUND, "every round forked %d times (%d forks)", FORKS_PER_ROUND, forks);
    CHECK(children_ok == forks, "every child tracked, looked up and flushed by its deadline (%d of %d)", children_ok, forks);
    CHECK(hung == 0, "no round hung (%d did)", hung);
    CHECK(arrived == expected && duplicated == 0, "every event arrived once (%d of %d, %d duplicated)", arrived, expected,
          duplicated);
    CHECK(busy_forks * 2 >= forks, "most forks came with requests in flight (%d of %d)", busy_forks, forks);
    return finish();
}
