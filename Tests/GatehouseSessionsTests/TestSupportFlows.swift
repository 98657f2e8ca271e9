import Foundation
import GatehouseCore
import Logging
import Synchronization

@testable import GatehouseSessions

// Support for OAuthFlowsTests: an in-memory store with the SQLite store's flow semantics, a
// completion poster that records instead of sending, a clock the test moves by hand.

/// Flows and bindings in memory. `insertFlow` replaces only a finished flow (completed, or
/// expired as of the new flow's `createdAt`) and throws `SessionStoreError.flowExists` for a
/// live one, like `SQLiteSessionStore`.
actor FlowTestStore: SessionStore {
    private(set) var flowRows: [FlowKey: OAuthFlowRecord] = [:]
    private var bindings: [SessionKey: SessionBinding] = [:]
    /// When set, every flow call throws (a store that went away).
    var failing = false
    /// Runs once, at the start of the next `setFlowCookie` or `completeFlow`: another request
    /// getting in between the flow logic's read and its write.
    private var interleaved: (@Sendable () async -> Void)?

    struct Unavailable: Error {}

    func setFailing(_ value: Bool) { failing = value }

    func interleave(_ body: @escaping @Sendable () async -> Void) { interleaved = body }

    private func runInterleaved() async {
        guard let body = interleaved else { return }
        interleaved = nil
        await body()
    }

    func row(_ tenant: TenantID, _ sessionID: String) -> OAuthFlowRecord? {
        flowRows[FlowKey(tenant: tenant, sessionID: sessionID)]
    }

    func loadBindings(now: Double) async throws -> [SessionBinding] { bindings.values.filter { $0.expiresAt > now } }
    func upsertBinding(_ binding: SessionBinding) async throws { bindings[binding.key] = binding }
    func claimBinding(_ binding: SessionBinding, now: Double) async throws -> SessionBinding {
        if let live = bindings[binding.key], live.expiresAt > now { return live }
        bindings[binding.key] = binding
        return binding
    }
    func binding(_ key: SessionKey, now: Double) async throws -> SessionBinding? { bindings[key].flatMap { $0.expiresAt > now ? $0 : nil } }
    func bindings(tenant: TenantID, subject: String?, now: Double) async throws -> [SessionBinding] {
        bindings.values.filter { $0.key.tenant == tenant && $0.expiresAt > now && (subject == nil || $0.principal.subject == subject) }
    }
    func deleteBinding(_ key: SessionKey) async throws { bindings[key] = nil }
    func touchBindings(_ updates: [SessionTouch]) async throws {
        for u in updates where bindings[u.key] != nil {
            bindings[u.key]!.lastSeenAt = u.lastSeenAt
            bindings[u.key]!.expiresAt = u.expiresAt
        }
    }
    func deleteExpiredBindings(now: Double) async throws -> Int {
        let expired = bindings.filter { $0.value.expiresAt <= now }.map(\.key)
        for k in expired { bindings[k] = nil }
        return expired.count
    }

    func insertFlow(_ flow: OAuthFlowRecord) async throws {
        if failing { throw Unavailable() }
        let key = FlowKey(tenant: flow.tenant, sessionID: flow.sessionID)
        if let existing = flowRows[key], existing.completedAt == nil, existing.expiresAt > flow.createdAt {
            throw SessionStoreError.flowExists
        }
        if flowRows.values.contains(where: { $0.startHandle == flow.startHandle && $0.sessionID != flow.sessionID }) {
            throw SessionStoreError.startHandleInUse
        }
        flowRows[key] = flow
    }

    func flow(tenant: TenantID, sessionID: String) async throws -> OAuthFlowRecord? {
        if failing { throw Unavailable() }
        return row(tenant, sessionID)
    }

    func flow(startHandle: String) async throws -> OAuthFlowRecord? {
        if failing { throw Unavailable() }
        return flowRows.values.first { $0.startHandle == startHandle }
    }

    func flows(sessionID: String) async throws -> [OAuthFlowRecord] {
        if failing { throw Unavailable() }
        return flowRows.values.filter { $0.sessionID == sessionID }.sorted { $0.tenant < $1.tenant }
    }

    func setFlowCookie(tenant: TenantID, sessionID: String, startHandle: String, cookieHash: String) async throws {
        await runInterleaved()
        if failing { throw Unavailable() }
        let key = FlowKey(tenant: tenant, sessionID: sessionID)
        guard flowRows[key]?.startHandle == startHandle else { throw SessionStoreError.flowNotFound }
        flowRows[key]!.cookieHash = cookieHash
    }

    func completeFlow(tenant: TenantID, sessionID: String, startHandle: String, now: Double) async throws -> Bool {
        await runInterleaved()
        if failing { throw Unavailable() }
        let key = FlowKey(tenant: tenant, sessionID: sessionID)
        guard let flow = flowRows[key], flow.startHandle == startHandle, flow.completedAt == nil, flow.expiresAt > now else {
            return false
        }
        flowRows[key]!.completedAt = now
        flowRows[key]!.sealedUserToken = []
        return true
    }

    func deleteFlows(tenant: TenantID, sessionID: String) async throws -> Int {
        if failing { throw Unavailable() }
        let gone = flowRows.filter { $0.value.tenant == tenant && $0.value.sessionID == sessionID }.map(\.key)
        for k in gone { flowRows[k] = nil }
        return gone.count
    }

    func deleteFlows(tenant: TenantID, subject: String, issuer: String?) async throws -> Int {
        if failing { throw Unavailable() }
        let gone = flowRows.filter {
            $0.value.tenant == tenant && $0.value.principal.subject == subject && (issuer == nil || $0.value.principal.issuer == issuer)
        }.map(\.key)
        for k in gone { flowRows[k] = nil }
        return gone.count
    }

    func deleteExpiredFlows(now: Double) async throws -> Int {
        if failing { throw Unavailable() }
        let expired = flowRows.filter { $0.value.expiresAt <= now }.map(\.key)
        for k in expired { flowRows[k] = nil }
        return expired.count
    }

    func ping() async -> Bool { !failing }
}

/// Records completion POSTs and answers with `status`, or throws when `fails`.
final class RecordingCompletionPoster: CompletionPoster {
    struct Post: Sendable {
        var url: String
        var body: [UInt8]
        var json: JSONValue? { try? JSONParser.parse(body) }
    }

    struct Unreachable: Error {}

    private let state = Mutex<(posts: [Post], status: Int, fails: Bool)>(([], 204, false))

    var posts: [Post] { state.withLock { $0.posts } }

    func answer(status: Int = 204, fails: Bool = false) {
        state.withLock {
            $0.status = status
            $0.fails = fails
        }
    }

    func post(url: String, body: [UInt8]) async throws -> Int {
        try state.withLock {
            $0.posts.append(Post(url: url, body: body))
            if $0.fails { throw Unreachable() }
            return $0.status
        }
    }
}

final class FlowTestClock: Sendable {
    private let time: Mutex<Double>

    init(_ start: Double = 1_700_000_000) { time = Mutex(start) }

    var now: WallClock { { [self] in self.time.withLock { $0 } } }

    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

/// One OAuthFlows over a fresh key directory, test store, poster and clock.
final class FlowHarness {
    static let acme = TenantID("acme")!
    static let globex = TenantID("globex")!
    static let baseURL = "https://gw.example.com"
    static let authorizationURL = "https://provider.example.com/oauth/authorize?client_id=x&state=abc"

    let root: String
    let keyDirectory: String
    let store = FlowTestStore()
    let poster = RecordingCompletionPoster()
    let clock = FlowTestClock()
    let flows: OAuthFlows
    var tenants: [TenantID: Tenant]

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/gatehouse-flows-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CocoaError(.fileWriteUnknown)
        }
        root = String(cString: made)
        keyDirectory = root + "/state/keys"
        tenants = [Self.acme: Self.tenant(Self.acme), Self.globex: Self.tenant(Self.globex)]
        flows = try OAuthFlows(
            store: store, keyDirectory: keyDirectory, completionPoster: poster, clock: clock.now, logger: Self.logger)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    static let logger: Logger = {
        var logger = Logger(label: "flows-test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()

    static func tenant(_ id: TenantID, oauth: Bool = true) -> Tenant {
        Tenant(
            id: id, displayName: id.rawValue, idps: [], upstreams: [],
            oauth: oauth ? OAuthSettings(completionURL: "http://127.0.0.1:7001/complete/\(id.rawValue)", flowTTLSeconds: 600) : nil)
    }

    static func principal(_ tenant: TenantID = acme, sub: String = "alice", client: String? = "app") -> Principal {
        Principal(
            tenant: tenant, idp: "idp", issuer: "https://idp.example.com", subject: sub, clientID: client, scopes: [],
            claims: .object(["sub": .string(sub)]), expiresAt: 1_800_000_000)
    }

    static func token(_ sub: String) -> String { "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ\(sub)In0.signature-of-\(sub)" }

    /// Registers a flow and returns its start handle.
    func create(
        _ sessionID: String, tenant: TenantID = acme, sub: String = "alice", url: String = authorizationURL
    ) async throws -> String {
        let result = await flows.createFlow(
            tenant: tenants[tenant]!, principal: Self.principal(tenant, sub: sub), userToken: Self.token(sub), sessionID: sessionID,
            authorizationURL: url, baseURL: Self.baseURL)
        guard result.status == 201, let startURL = result.json?["start_url"]?.stringValue else {
            throw HarnessError(message: "create answered \(result.status)")
        }
        return String(startURL.split(separator: "/").last!)
    }

    /// Opens the start URL and returns the cookie it set, as a browser would keep it.
    func start(_ handle: String, secure: Bool = false) async throws -> (name: String, value: String) {
        let result = await flows.start(handle: handle, secure: secure)
        guard result.status == 302, let cookie = result.header("Set-Cookie") else {
            throw HarnessError(message: "start answered \(result.status)")
        }
        let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
        return (String(pair[0]), String(pair[1]))
    }

    func callback(
        _ sessionID: String, cookies: [String: String] = [:], bearer: Principal? = nil, bearerToken: String? = nil
    ) async -> FlowResult {
        await flows.callback(sessionID: sessionID, cookies: cookies, bearerPrincipal: bearer, bearerToken: bearerToken, tenants: tenants)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension FlowResult {
    var json: JSONValue? { try? JSONParser.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The permission bits of `path` (0 when it does not exist).
func fileMode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
}
