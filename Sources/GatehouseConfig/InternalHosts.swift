/// An early, static refusal of IdP URLs that obviously point inside the network, for IdPs
/// submitted through the admin API. It only spares a round trip: the real guard is the fetcher's
/// check of the address it actually connects to (docs/admin-api.md "Request-forgery guard"), since any name can resolve anywhere.
enum InternalHosts {
    static func isObviouslyInternal(_ host: String) -> Bool {
        var host = host.lowercased()
        // `localhost.` and `127.0.0.1.` are the same hosts written fully qualified.
        while host.hasSuffix(".") { host.removeLast() }
        if host == "localhost" || host.hasSuffix(".localhost") || host.hasSuffix(".internal") { return true }
        // IPv6 literals: legitimate public IdPs are reached by name.
        if host.contains(":") { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard let last = labels.last else { return true }
        // A numeric last label is no DNS name: an address, possibly in a decimal, octal or hex
        // spelling (`2130706433`, `0x7f.1`) that resolvers still turn into 127.0.0.1.
        let numeric = !last.isEmpty && (last.allSatisfy(\.isASCIIDigitLike) || last.hasPrefix("0x"))
        guard numeric else { return false }
        guard labels.count == 4, let octets = dottedQuad(labels) else { return true }
        return isPrivate(octets)
    }

    private static func dottedQuad(_ labels: [Substring]) -> [Int]? {
        var octets: [Int] = []
        for label in labels {
            // Leading zeros mean octal to some resolvers; refuse the ambiguity.
            guard !label.isEmpty, label.count <= 3, label.allSatisfy(\.isASCIIDigitLike),
                label == "0" || !label.hasPrefix("0"), let n = Int(label), n <= 255
            else { return nil }
            octets.append(n)
        }
        return octets
    }

    private static func isPrivate(_ o: [Int]) -> Bool {
        switch (o[0], o[1]) {
        case (0, _), (10, _), (127, _): true
        case (100, 64...127): true  // CGNAT
        case (169, 254): true  // link-local, cloud metadata
        case (172, 16...31): true
        case (192, 168): true
        case (192, 0) where o[2] == 0: true
        case (198, 18...19): true
        case (224...255, _): true  // multicast, reserved, broadcast
        default: false
        }
    }
}

extension Character {
    fileprivate var isASCIIDigitLike: Bool { isASCII && isNumber }
}
