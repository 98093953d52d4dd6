// WAL checkpoints on a thread of their own, so their copying and flushing to disk leave
// the insert path.

import CSQLite

import Glibc
import Support

/// Copies the write-ahead log back into the database file on its own thread and connection.
///
/// The write connection's automatic checkpoints are replaced by a WAL hook that only counts:
/// once a commit leaves `thresholdPages` or more in the log, the hook wakes this thread,
/// which runs a PASSIVE checkpoint (it never blocks the writer or readers). The writer
/// restarts the log from its beginning at its next transaction once a checkpoint has copied
/// all of it, as SQLite always does, so the log stays about as small as before.
///
/// `@unchecked Sendable`: `wanted` and `stopping` are only read and written with `lock`
/// held; the connection is used by the checkpoint thread alone (and closed after it ends).
final class SQLiteCheckpointer: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let thresholdPages: Int32
    private let lock = ConditionLock()
    private var wanted = false
    private var stopping = false
    private var thread: pthread_t?
    /// The checkpoint thread's nice value (0 is normal, 19 the lowest priority).
    static let niceness: Int32 = 10

    /// Opens the checkpoint connection and starts the thread; nil when either fails
    /// (the write connection then keeps SQLite's automatic checkpoints).
    init?(path: String, busyTimeoutMilliseconds: Int32, thresholdPages: Int) {
        guard let connection = try? SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds) else {
            return nil
        }
        self.connection = connection
        self.thresholdPages = Int32(clamping: max(1, thresholdPages))
        // Copying the log is background work: at a lower priority, it takes the cores a load
        // leaves idle instead of slowing the load down (it catches up once the load ends).
        guard let handle = PThread.tryStart(niceness: Self.niceness, { [self] in serve() }) else { return nil }
        thread = handle
    }

    /// Makes `writer` hand its checkpoints to this thread (replacing its automatic checkpoints).
    /// The hook holds no reference: call `stop()` before this object can go away.
    func attach(to writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, { context, _, _, pages in
            let checkpointer = Unmanaged<SQLiteCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= checkpointer.thresholdPages { checkpointer.request() }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Asks for a checkpoint soon; cheap, never blocks on the checkpoint itself.
    func request() {
        lock.withLock {
            wanted = true
            lock.signal()
        }
    }

    /// Ends the thread after the checkpoint in progress, if any. Detach the hook first.
    func stop() {
        lock.withLock {
            stopping = true
            lock.signal()
        }
        if let thread {
            PThread.join(thread)
            self.thread = nil
        }
    }

    private func serve() {
        while true {
            let stop: Bool = lock.withLock {
                while !wanted && !stopping { lock.wait() }
                wanted = false
                return stopping
            }
            if stop { return }
            // The pragma, not `sqlite3_wal_checkpoint_v2`: it reads the schema first, so a
            // connection that has read nothing yet learns the file is in WAL mode (the API call
            // alone then does nothing at all, and the log grows until the process ends).
            try? connection.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
        }
    }
}
