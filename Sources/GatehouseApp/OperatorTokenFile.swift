import GatehouseConfig
import GatehouseCore
import Logging

/// The operator token (docs/admin-api.md "Authentication"): from `GATEHOUSE_OPERATOR_TOKEN` or `admin.operator_token_file`.
/// When the file is configured but does not exist yet, a random token is written to it (mode
/// 0600) on first start, so the admin API is never left open or unusable by default.
enum OperatorTokenFile {
    static func ensure(_ settings: GatehouseSettings, logger: Logger) throws -> String? {
        if let token = settings.operatorToken { return token }
        guard let path = settings.operatorTokenFile else {
            logger.warning("no operator token configured: only tenant admin keys can use the admin API, and none can be created")
            return nil
        }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try PrivateFile.ensureDirectory(directory) }
        let token = "gho_" + Secrets.randomToken(bytes: 32)
        do {
            try PrivateFile.createNew(path, Array((token + "\n").utf8))
            logger.notice("operator token created", metadata: ["file": "\(path)"])
            return token
        } catch {
            // Another process may have created it first: use that one.
            if let existing = OperatorToken.existing(at: path) { return existing }
            throw error
        }
    }
}
