/* Monotonic time and sleeps for the C tests that check deadlines and vary timing (needs
 * _POSIX_C_SOURCE >= 199309L). */
#ifndef HIMETRICA_TEST_TIMING_H
#define HIMETRICA_TEST_TIMING_H

#include <errno.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `ms` milliseconds, also across signals. */
static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

#endif
