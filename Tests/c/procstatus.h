/* Reading this process's /proc/self/status, for the C tests and the soak's load generator. */
#ifndef HIMETRICA_TEST_PROCSTATUS_H
#define HIMETRICA_TEST_PROCSTATUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kB of a /proc/self/status line such as "VmHWM:" (peak resident set), or -1. */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) kb = strtol(line + n, NULL, 10);
    if (f) fclose(f);
    return kb;
}

#endif
