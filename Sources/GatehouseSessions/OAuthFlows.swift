import GatehouseCore
import Logging

/// Verified OAuth 3-legged flows (docs/sessions-and-oauth.md "Verified OAuth 3-legged flows"), independent of sockets: the proxy parses the
/// request, calls one method and writes the `FlowResult` it returns.
///
/// The guarantees, in one place:
/// - a flow belongs to the principal that registered it (`createFlow`, or an upstream
///   `-32042` elicitation seen by `recordElicitation`); another principal cannot take over a
///   live flow (409);
/// - only the browser that opened the flow's start URL (it holds the flow's cookie secret), or a
///   bearer token of the same principal and tenant, can complete it;
/// - a flow completes at most once (`SessionStore.completeFlow` is atomic), and nothing is sent
///   to the tenant's completion URL for any other outcome;
/// - the user token is sealed at rest (AES-256-GCM) and erased on completion or expiry.
///
/// Nothing here logs tokens, cookie secrets, start handles or session ids (only a short hash
/// of the session id, see `FlowSecrets.logID`).
public final class OAuthFlows: Sendable {
    let store: any SessionStore
    let sealer: FlowTokenSealer
    let completionPoster: any CompletionPoster
    let clock: WallClock
    let logger: Logger
    let gate = FlowGate()

    /// Where start URLs live, below the base URL; the flow cookie is scoped to `cookiePath`.
    public static let startPath = "/.gatehouse/oauth/start/"
    public static let cookiePath = "/.gatehouse/oauth/"

    /// Seals user tokens with `sealingKey`.
    public init(
        store: any SessionStore, sealingKey: SealingKey, completionPoster: any CompletionPoster, clock: @escaping WallClock,
        logger: Logger
    ) {
        self.store = store
        self.sealer = sealingKey.sealer
        self.completionPoster = completionPoster
        self.clock = clock
        self.logger = logger
    }

    /// With the key at its default place, `keyDirectory/flow-token.key` (created, 0600, when
    /// missing); throws `SealingKeyError` when it cannot be had.
    public convenience init(
        store: any SessionStore, keyDirectory: String, completionPoster: any CompletionPoster, clock: @escaping WallClock,
        logger: Logger
    ) throws {
        var directory = keyDirectory
        while directory.utf8.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        let key = try SealingKey.load(path: directory + "/" + SealingKey.defaultFileName, createIfMissing: true)
        self.init(store: store, sealingKey: key, completionPoster: completionPoster, clock: clock, logger: logger)
    }

    /// Deletes expired flows and the tokens sealed in them. Run periodically by a background
    /// service; failures are logged and retried on the next run.
    public func sweep() async {
        do {
            let removed = try await store.deleteExpiredFlows(now: clock())
            if removed > 0 { logger.debug("expired OAuth flows removed", metadata: ["count": "\(removed)"]) }
        } catch {
            logger.warning("cannot remove expired OAuth flows", metadata: ["error": "\(error)"])
        }
    }
}
