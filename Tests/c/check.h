/* The C tests' small harness: CHECK counts a pass, or a failure printed with its place and a
 * message; finish() prints "N passed, N failed" (the closing line CI reads) and gives the exit
 * status. */
#ifndef HIMETRICA_TEST_CHECK_H
#define HIMETRICA_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
        }                                                                      \
    } while (0)

/* Prints the closing line; returns the process exit status. */
static int finish(void) {
    fflush(stderr);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
