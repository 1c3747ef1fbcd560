// The system's SQLite (libsqlite3.so.0), for the durable spool. Swift cannot use the
// SQLITE_TRANSIENT destructor macro (a cast of -1 to a function pointer): bind through these.
#ifndef HIMETRICA_CSQLITE_SHIM_H
#define HIMETRICA_CSQLITE_SHIM_H

#include <sqlite3.h>

/// Binds a copy of `n` bytes of text (SQLite copies them before returning).
static inline int hm_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *v, int n) {
    return sqlite3_bind_text(s, i, v, n, SQLITE_TRANSIENT);
}
/// Binds a copy of `n` bytes as a blob (SQLite copies them before returning).
static inline int hm_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *v, int n) {
    return sqlite3_bind_blob(s, i, v, n, SQLITE_TRANSIENT);
}

#endif
