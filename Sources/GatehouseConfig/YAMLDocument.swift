import GatehouseCore
import Yams

/// YAML text -> `JSONValue`, so tenant files and admin-API JSON go through one validator.
///
/// Scalars keep YAML's typing (`60` is a number, `true` a boolean, `"60"` a string); mapping
/// keys are always their text. Duplicate keys, several documents in one file, and trees that
/// are too deep or (through aliases) too large are refused.
enum YAMLDocument {
    struct Failure: Error {
        let message: String
    }

    static func parse(_ text: String) -> Result<JSONValue, Failure> {
        guard text.utf8.count <= InputLimits.maxFileBytes else {
            return .failure(Failure(message: "file is larger than \(InputLimits.maxFileBytes) bytes"))
        }
        let root: Node?
        do {
            // The basic resolver (no rules) while parsing: Yams hashes every mapping key to find
            // duplicates, and with the default resolver each hash ran the typing regexes (30 % of
            // loading 10,000 tenant files). Scalars are typed once, in `scalarValue`. An explicit
            // encoding: the default one reads the whole environment on every parse.
            root = try Parser(yaml: text, resolver: .basic, encoding: .utf8).singleRoot()
        } catch let error as YamlError {
            return .failure(Failure(message: describe(error)))
        } catch {
            return .failure(Failure(message: "invalid YAML"))
        }
        guard let root else { return .success(.object([:])) }
        var converter = Converter()
        do {
            return .success(try converter.convert(root, depth: 0))
        } catch {
            return .failure(error)
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "invalid YAML at line \(mark.line), column \(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { FieldPath.quoted($0) }.joined(separator: ", ")
            return "invalid YAML at line \(context.mark.line): duplicate key \(keys)"
        case .reader(let problem, _, _, _):
            return "invalid YAML: \(problem)"
        default:
            return "invalid YAML"
        }
    }

    private struct Converter {
        var nodes = 0

        mutating func convert(_ node: Node, depth: Int) throws(Failure) -> JSONValue {
            nodes += 1
            guard nodes <= InputLimits.maxNodes else {
                throw Failure(message: "document has more than \(InputLimits.maxNodes) values (aliases expanded)")
            }
            guard depth <= InputLimits.maxDepth else {
                throw Failure(message: "document is nested deeper than \(InputLimits.maxDepth) levels")
            }
            switch node {
            case .scalar(let scalar):
                return YAMLDocument.scalarValue(scalar)
            case .sequence(let sequence):
                var items: [JSONValue] = []
                items.reserveCapacity(sequence.count)
                for item in sequence { items.append(try convert(item, depth: depth + 1)) }
                return .array(items)
            case .mapping(let mapping):
                var members: [String: JSONValue] = [:]
                for (key, value) in mapping {
                    guard case .scalar(let keyScalar) = key else {
                        throw Failure(message: "line \(key.mark?.line ?? 0): map keys must be plain text")
                    }
                    guard members[keyScalar.string] == nil else {
                        throw Failure(message: "line \(key.mark?.line ?? 0): duplicate key \(FieldPath.quoted(keyScalar.string))")
                    }
                    members[keyScalar.string] = try convert(value, depth: depth + 1)
                }
                return .object(members)
            case .alias:
                throw Failure(message: "unresolved YAML alias")
            }
        }
    }

    /// YAML 1.1 typing of plain scalars (`60`, `true`, `~`), applied to values only.
    private static let typing = Resolver.default

    private static func scalarValue(_ scalar: Node.Scalar) -> JSONValue {
        let node = Node.scalar(scalar)
        let tag: Tag.Name
        switch Tag.Name(rawValue: scalar.tag.rawValue) {  // the tag as parsed, not resolved
        case .implicit: tag = typing.resolveTag(of: node)  // plain and untagged
        case .nonSpecific: tag = .str  // `! 60`
        case let explicit: tag = explicit  // quoted (`str`) or tagged (`!!int "60"`)
        }
        switch tag.rawValue {
        case Tag.Name.null.rawValue:
            return .null
        case Tag.Name.bool.rawValue:
            if let b = node.bool { return .bool(b) }
        case Tag.Name.int.rawValue:
            if let n = node.int { return .number(String(n)) }
        case Tag.Name.float.rawValue:
            if let d = node.float, d.isFinite { return .number(d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)) }
        default:
            break
        }
        return .string(scalar.string)
    }
}
