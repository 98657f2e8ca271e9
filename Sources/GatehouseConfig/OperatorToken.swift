import Foundation
import GatehouseCore

/// The operator token, from `GATEHOUSE_OPERATOR_TOKEN` or `admin.operator_token_file`.
public enum OperatorToken {
    /// Surrounding whitespace removed (files usually end in a newline); empty means "no token".
    static func trimmed(_ text: String) -> String? {
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }

    /// Reads the token file when it exists. A missing file is not a problem: the server may
    /// create it on first start. A file that exists but cannot be used is.
    static func read(from path: String) -> Result<String?, FilePaths.ReadFailure> {
        switch FilePaths.readText(path, maxBytes: InputLimits.maxOperatorTokenBytes) {
        case .success(let text): return .success(trimmed(text))
        case .failure(.notFound): return .success(nil)
        case .failure(let failure): return .failure(failure)
        }
    }
}

extension OperatorToken {
    /// The token is compared with `Authorization: Bearer …` values, so it must be something a
    /// header can carry: visible ASCII, no spaces.
    static func isUsable(_ token: String) -> Bool {
        token.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

extension OperatorToken {
    /// The token in the file at `path`, when it exists and holds a usable token (for a server
    /// that lost the race to create the file).
    public static func existing(at path: String) -> String? {
        guard case .success(let token?) = read(from: path), isUsable(token) else { return nil }
        return token
    }
}
