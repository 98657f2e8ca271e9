/// Caps on configuration input. Tenant files come from operators, but IdP definitions also
/// arrive from tenant admins through the admin API, so every list and string is bounded:
/// validation work and memory must not grow with whatever a caller chooses to send.
enum InputLimits {
    static let maxFileBytes = 1 << 20
    /// YAML aliases can expand a small file into a huge tree ("billion laughs"); conversion stops here.
    static let maxNodes = 100_000
    static let maxDepth = 32
    static let maxStringBytes = 2048
    static let maxNameBytes = 256
    static let maxListEntries = 100
    static let maxAlgorithms = 20
    static let maxIdPs = 100
    static let maxPropagationRules = 64
    static let maxSessionRules = 32
    static let maxUnknownKeysReported = 10
    static let maxOperatorTokenBytes = 4096
    /// Largest accepted value for any `*_seconds` setting (ten years).
    static let maxSeconds = 315_360_000
}
