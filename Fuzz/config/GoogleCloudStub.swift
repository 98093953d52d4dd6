// The one GoogleCloud type the configuration names, so that the configuration sources compile
// without libcurl and swift-crypto. Built as a module named GoogleCloud for the config harness only.

public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var initialBackoff: Double
    public var maxBackoff: Double
    public var multiplier: Double
    public var deadline: Double

    public init(maxAttempts: Int = 1_000, initialBackoff: Double = 1, maxBackoff: Double = 32,
                multiplier: Double = 2, deadline: Double = 120) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.deadline = deadline
    }
}
