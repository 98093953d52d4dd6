/// Why an identity could not be established or a users file not used.
public enum AccessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No credentials, or credentials that do not check out.
    case unauthenticated(String)
    /// A known identity that may not do this.
    case forbidden(String)
    /// Too many failed sign-ins; try again after the given seconds.
    case throttled(retryAfterSeconds: Int)
    /// The users file cannot be read or written, or holds something invalid.
    case usersFile(String)
    /// A user name, role, region list or token label that is not acceptable.
    case invalid(String)
    /// The IAP keys cannot be had or read.
    case keys(String)

    public var description: String {
        switch self {
        case .unauthenticated(let message), .forbidden(let message), .usersFile(let message),
             .invalid(let message), .keys(let message):
            message
        case .throttled(let seconds): "too many failed sign-ins; try again in \(seconds) s"
        }
    }
}
