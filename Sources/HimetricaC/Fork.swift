import HimetricaCore

/// Call right before `fork()` from a language runtime whose own lock the callbacks need
/// (Python's GIL), with that lock released: waits, at most 1 s, until every client's flush
/// thread is out of its callbacks and parked, and keeps it parked until the fork ends. The
/// pthread_atfork() handlers do the rest, with or without this call; without it, they let
/// fork() go ahead while a flush thread is inside a callback, as waiting for it could deadlock.
/// A runtime that takes a lock of its own when a thread enters it needs this call: CPython
/// 3.11 and older, unless its release has the fix for python/cpython#112275 (3.11.7 does not),
/// hangs a child forked while the flush thread enters Python. The Python binding calls it from os.register_at_fork().
/// Returns HM_OK, or HM_ERR_TIMEOUT when a flush thread was still inside a callback after 1 s
/// (fork() then goes ahead as without this call). A fork that does not come within another
/// second lets the threads go on.
@c public func hm_prepare_fork() -> hm_status {
    guard ProcessHooks.parkBeforeFork() else {
        LastError.set("a flush thread was still inside a callback after 1 s; fork() goes ahead without waiting for it")
        return .HM_ERR_TIMEOUT
    }
    return LastError.ok()
}
