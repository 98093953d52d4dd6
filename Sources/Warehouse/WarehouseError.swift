// The one error type of the Warehouse module.

/// Why a warehouse call failed. Each case has a stable `code` and a human `message`.
public enum WarehouseError: Error, Sendable, Equatable {
    /// The database could not be opened or created.
    case cannotOpen(path: String, message: String)
    /// The database answered a statement with an error.
    case database(code: Int32, message: String)
    /// The database is not writable (read-only file, disk full, locked too long).
    case notWritable(String)
    /// A stored value could not be read back (a corrupt or foreign database).
    case corruptValue(String)
    /// A read ran past its time budget (milliseconds) and was interrupted.
    case timedOut(Int)

    /// A stable machine-readable code.
    public var code: String {
        switch self {
        case .cannotOpen: "warehouse_cannot_open"
        case .database: "warehouse_error"
        case .notWritable: "warehouse_not_writable"
        case .corruptValue: "warehouse_corrupt_value"
        case .timedOut: "query_timeout"
        }
    }

    /// A sentence for people.
    public var message: String {
        switch self {
        case .cannotOpen(let path, let message): "cannot open the warehouse database at \(path): \(message)"
        case .database(let code, let message): "the warehouse database failed (\(code)): \(message)"
        case .notWritable(let message): "the warehouse database is not writable: \(message)"
        case .corruptValue(let message): "a stored value could not be read: \(message)"
        case .timedOut(let milliseconds): "the question took longer than \(milliseconds) ms and was stopped"
        }
    }
}
