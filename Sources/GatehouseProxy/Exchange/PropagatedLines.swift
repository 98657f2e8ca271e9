import GatehouseCore
import Logging
import NIOCore

/// The tenant's propagated identity headers for one principal, as header lines ready to copy
/// into every upstream head of that principal (tenants/README.md "How values are sent"). A value that
/// cannot be sent safely leaves its header out and is logged, by name only.
enum PropagatedLines {
    static func build(tenant: CompiledTenant, principal: Principal, logger: Logger) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: 128)
        for rule in tenant.tenant.propagate {
            let value: String?
            switch rule.source {
            case .tenant:
                value = principal.tenant.rawValue
            case .claim(let path):
                guard let claim = path.resolve(in: principal.claims) else { continue }
                value = HeaderValueEncoding.encode(claim)
                if value == nil {
                    logger.warning(
                        "claim value not propagated: it holds a control character",
                        metadata: ["tenant": "\(principal.tenant)", "header": "\(rule.header)", "claim": "\(path)"])
                }
            }
            guard let value else { continue }
            out.writeString(rule.header)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeCRLF()
        }
        return out
    }

    /// The assertion header line.
    static func assertion(header: String, token: String) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: header.utf8.count + token.utf8.count + 4)
        out.writeString(header)
        out.writeStaticString(": ")
        out.writeString(token)
        out.writeCRLF()
        return out
    }
}
