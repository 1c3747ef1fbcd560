import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sender role of a spool: an `fcntl` write lock (F_SETLK, never waiting) on its
/// `sender.lock`, at most one holder per host.
///
/// POSIX record locks belong to the process, not to the descriptor, and closing *any*
/// descriptor of the file drops them. So each lock file is opened once per process, here,
/// and never closed; and within the process one engine (named by its origin) holds the role.
/// The OS drops the lock when the process dies; a forked child holds none (``resetAfterFork()``).
enum SenderLock {
    private struct Entry {
        var fd: Int32
        /// The engine in this process holding the role, if any.
        var holder: String?
    }

    nonisolated(unsafe) private static var entries: [String: Entry] = [:]
    /// Guards `entries`; a pthread mutex (not `Mutex`) so a forked child can reinitialize it
    /// whoever held it at the fork.
    private static let lock = ConditionLock()

    private static func withTable<T>(_ body: (inout [String: Entry]) -> T) -> T {
        lock.withLock { body(&entries) }
    }

    /// Tries once to make `holder` the sender of the spool whose lock file is `path`.
    static func take(_ path: String, holder: String) -> Bool {
        withTable { table in
            var entry = table[path] ?? Entry(fd: -1)
            if let current = entry.holder { return current == holder }
            if entry.fd < 0 {
                entry.fd = hm_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard entry.fd >= 0 else { return false }
            }
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            defer { table[path] = entry }
            guard hm_fcntl_lock(entry.fd, F_SETLK, &lock) == 0 else { return false }
            entry.holder = holder
            return true
        }
    }

    /// Gives the role up (the engine closed its spool); another process may take it.
    static func release(_ path: String, holder: String) {
        withTable { table in
            guard var entry = table[path], entry.holder == holder else { return }
            var lock = flock()
            lock.l_type = Int16(F_UNLCK)
            lock.l_whence = Int16(SEEK_SET)
            _ = hm_fcntl_lock(entry.fd, F_SETLK, &lock)
            entry.holder = nil
            table[path] = entry
        }
    }

    /// The process holding the role of the spool whose lock file is `path`, as the OS knows it.
    static func holderPid(_ path: String) -> Int32? {
        withTable { table -> Int32? in
            if table[path]?.holder != nil { return getpid() }
            var entry = table[path] ?? Entry(fd: -1)
            if entry.fd < 0 {
                entry.fd = hm_open(path, O_RDWR | O_CLOEXEC, 0)
                guard entry.fd >= 0 else { return nil }
                table[path] = entry
            }
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            guard hm_fcntl_lock(entry.fd, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
            return lock.l_pid
        }
    }

    /// In a forked child: it holds no lock (fcntl locks are not inherited). The inherited
    /// descriptors stay open: closing one would be harmless here, but they are the parent's.
    static func resetAfterFork() {
        lock.reinitializeAfterFork()
        for key in entries.keys { entries[key]?.holder = nil }
    }
}
