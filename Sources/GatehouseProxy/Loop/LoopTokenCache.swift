import GatehouseCore
import NIOCore

/// A verified token as one event loop keeps it: who it proved, and the header lines every
/// request with it sends upstream, ready to copy.
final class VerifiedEntry {
    let token: [UInt8]
    /// The tenant the request named before its token was read (Host or path prefix), or nil
    /// when the token's issuer chose it: a token verified for one scope proves nothing in another.
    let scope: TenantID?
    /// The configuration generation it was verified under: any reload (an IdP removed or
    /// replaced, a propagation rule changed) makes it a miss.
    let generation: Int
    let principal: Principal
    let tenant: CompiledTenant
    /// Wall-clock seconds after which the token no longer counts (its `exp` plus the skew).
    let validUntil: Double
    /// The propagated identity header lines (`Name: value\r\n`…).
    let propagated: ByteBuffer
    /// The assertion header line and until when it may be reused.
    var assertion: ByteBuffer?
    var assertionReuseUntil: Double = 0

    init(
        token: [UInt8], scope: TenantID?, generation: Int, principal: Principal, tenant: CompiledTenant, validUntil: Double,
        propagated: ByteBuffer
    ) {
        self.token = token
        self.scope = scope
        self.generation = generation
        self.principal = principal
        self.tenant = tenant
        self.validUntil = validUntil
        self.propagated = propagated
    }
}

/// The verified tokens of one event loop: a direct-mapped table indexed by the token's last
/// bytes (its signature: as good as random for a genuine token) mixed with a secret per-loop
/// seed, each hit confirmed by comparing the whole token. A hit costs no hash of the token, no
/// lock and no allocation; a collision (or a forged token made to collide) is only a miss. The
/// process-wide cache behind it (`VerifiedTokenCache`, keyed by SHA-256) serves other loops.
final class LoopTokenCache {
    private var slots: [VerifiedEntry?]
    private let mask: Int
    private let seed: UInt64

    init(capacity: Int) {
        var size = 1
        while size < max(capacity, 1) { size <<= 1 }
        slots = [VerifiedEntry?](repeating: nil, count: size)
        mask = size - 1
        var g = SystemRandomNumberGenerator()
        seed = g.next() | 1
    }

    @inline(__always)
    private func index(_ token: UnsafeRawBufferPointer) -> Int {
        var h = seed ^ UInt64(token.count)
        if token.count >= 16 {
            h ^= token.loadUnaligned(fromByteOffset: token.count - 8, as: UInt64.self)
            h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
            h ^= token.loadUnaligned(fromByteOffset: token.count - 16, as: UInt64.self)
        } else {
            for b in token { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        h = (h ^ (h >> 32)) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: h >> 40) & mask
    }

    func lookup(_ token: UnsafeRawBufferPointer, scope: TenantID?, generation: Int, now: Double) -> VerifiedEntry? {
        guard let entry = slots[index(token)], entry.token.count == token.count, entry.generation == generation,
            entry.scope == scope, now < entry.validUntil
        else { return nil }
        let same = entry.token.withUnsafeBytes { stored in memcmp(stored.baseAddress!, token.baseAddress!, token.count) == 0 }
        return same ? entry : nil
    }

    func insert(_ entry: VerifiedEntry) {
        let i = entry.token.withUnsafeBytes { index($0) }
        slots[i] = entry
    }

    func removeAll() {
        for i in slots.indices { slots[i] = nil }
    }
}

#if canImport(Glibc)
import Glibc
#endif
