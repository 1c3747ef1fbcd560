// The system's SQLite (libsqlite3.so.0), for the durable spool. Swift cannot use the
// SQLITE_TRANSIENT destructor macro (a cast of -1 to a function pointer): bind through these.
#ifndef HIMETRICA_CSQLITE_SHIM_H
#define HIMETRICA_CSQLITE_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <string.h>

/// Binds a copy of `n` bytes of text (SQLite copies them before returning).
static inline int hm_sqlite3_bind_text(sqlite3_stmt *s, int i, const char *v, int n) {
    return sqlite3_bind_text(s, i, v, n, SQLITE_TRANSIENT);
}
/// Binds a copy of `n` bytes as a blob (SQLite copies them before returning).
static inline int hm_sqlite3_bind_blob(sqlite3_stmt *s, int i, const void *v, int n) {
    return sqlite3_bind_blob(s, i, v, n, SQLITE_TRANSIENT);
}

// The spool's file calls. Swift's Glibc overlay wraps open, fcntl, errno and the S_IF*
// constants in Swift, and using any of them links the overlay's whole object, which brings
// libm symbols newer than the wheel's manylinux tag (hypotf@GLIBC_2.35): the spool calls C.

/// The text of the calling thread's last OS error (errno).
static inline const char *hm_errno_text(void) {
    return strerror(errno);
}
/// The calling thread's last OS error (errno).
static inline int hm_errno(void) {
    return errno;
}
/// open(2) with a mode.
static inline int hm_open(const char *path, int flags, mode_t mode) {
    return open(path, flags, mode);
}
/// fcntl(2) with a struct flock (F_SETLK, F_GETLK).
static inline int hm_fcntl_lock(int fd, int command, struct flock *lock) {
    return fcntl(fd, command, lock);
}
/// Whether a stat mode is a directory's.
static inline int hm_is_directory(mode_t mode) {
    return S_ISDIR(mode);
}

#endif
