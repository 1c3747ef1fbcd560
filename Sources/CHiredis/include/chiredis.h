/* A few typed calls over hiredis 0.14 for the shared rate limit (HimetricaCore/SharedLimit).
 *
 * hiredis is linked statically (libhiredis.a), so libhimetrica.so has no load-time dependency
 * on it, and its reply struct never crosses into Swift: each reply is copied into a flat
 * chiredis_reply (a status/error/string text or up to CHIREDIS_MAX_INTEGERS integers). */
#ifndef CHIREDIS_H
#define CHIREDIS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to one Redis server. */
typedef struct chiredis_connection chiredis_connection;

/** The shapes of reply the toolkit's commands can get. */
typedef enum {
    CHIREDIS_IO_ERROR = 0,  /* no reply: connection lost, timeout, protocol error (text says which) */
    CHIREDIS_STATUS = 1,    /* +OK */
    CHIREDIS_ERROR = 2,     /* -ERR ... */
    CHIREDIS_STRING = 3,    /* a bulk string */
    CHIREDIS_INTEGER = 4,   /* :n */
    CHIREDIS_ARRAY = 5,     /* an array of integers (other elements count as 0) */
    CHIREDIS_NIL = 6,
} chiredis_kind;

#define CHIREDIS_MAX_INTEGERS 8
#define CHIREDIS_TEXT_BYTES 256

/** One reply, copied out of hiredis. */
typedef struct {
    chiredis_kind kind;
    /** The integer (CHIREDIS_INTEGER) or the number of elements (CHIREDIS_ARRAY). */
    long long integer;
    long long integers[CHIREDIS_MAX_INTEGERS];
    /** Status, error or string text, NUL-terminated, cut at CHIREDIS_TEXT_BYTES - 1. */
    char text[CHIREDIS_TEXT_BYTES];
} chiredis_reply;

/** Connects to host:port within timeout_ms, which then also bounds every command. On failure
 * returns NULL and writes why into error (error_bytes long). */
chiredis_connection *chiredis_connect(const char *host, int port, int timeout_ms, char *error, size_t error_bytes);

/** Sends one command (argc arguments of the given lengths) and reads its reply. After a
 * CHIREDIS_IO_ERROR the connection is unusable: free it. */
void chiredis_command(chiredis_connection *connection, int argc, const char **argv, const size_t *lengths,
                      chiredis_reply *reply);

/** In a child after fork(): closes this process's copy of the parent's socket without a word
 * on it (the parent's connection goes on) and frees nothing (the parent's thread, gone here,
 * owned it). The connection is unusable afterwards. NULL is ignored. */
void chiredis_abandon_after_fork(chiredis_connection *connection);

/** Closes and frees a connection. NULL is ignored. */
void chiredis_free(chiredis_connection *connection);

#ifdef __cplusplus
}
#endif

#endif
