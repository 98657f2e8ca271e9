/// Host names as written in config: `match.hosts` and `identity.insecure_idp_hosts`.
enum HostNames {
    /// A lower-cased DNS name or IPv4 address, or a message saying what is wrong with it.
    /// Ports, schemes, paths and wildcards are refused rather than half-supported: a host rule
    /// that silently never matches is worse than an error.
    static func dnsName(_ raw: String) -> Result<String, Invalid> {
        let host = raw.lowercased()
        if host.contains("://") { return .failure(Invalid("must be a host name, not a URL")) }
        if host.contains("*") { return .failure(Invalid("wildcards are not supported; list each host")) }
        if host.contains(":") { return .failure(Invalid("must not include a port")) }
        if host.contains("/") { return .failure(Invalid("must be a host name without a path")) }
        if host.hasSuffix(".") { return .failure(Invalid("must not end with a dot")) }
        guard host.utf8.count <= 253 else { return .failure(Invalid("must be at most 253 characters long")) }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else {
                return .failure(Invalid("is not a valid host name (empty or over-long label)"))
            }
            guard label.utf8.allSatisfy(isLabelByte), label.first != "-", label.last != "-" else {
                return .failure(Invalid("is not a valid host name (letters, digits, '-' and '.' only)"))
            }
        }
        return .success(host)
    }

    /// As `dnsName`, but also accepting an IPv6 literal (with or without brackets), stored without
    /// brackets as `ParsedURL.host` holds it.
    static func hostOrIPv6(_ raw: String) -> Result<String, Invalid> {
        var host = raw.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.contains(":"), !host.contains("://"), host.utf8.allSatisfy(isIPv6Byte), host.contains("::") || host.split(separator: ":").count == 8 {
            return .success(host)
        }
        return dnsName(host)
    }

    private static func isLabelByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    private static func isIPv6Byte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x66) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: ":") || b == UInt8(ascii: ".")
    }
}
