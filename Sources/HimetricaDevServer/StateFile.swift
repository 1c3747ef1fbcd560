#if DevServer  // a package trait (Package.swift)
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import ServiceLifecycle

/// Reads and writes the directory (visitors, users, identity indexes) as a JSON file for `--state`.
/// Events, requests and counters are not persisted.
enum StateFile {
    /// The directory stored in `path`; an empty one when the file does not exist.
    static func load(_ path: String) throws -> Directory {
        guard FileManager.default.fileExists(atPath: path) else { return Directory() }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let json = JSONValue.parse(data) else { throw StateFileError(path: path, reason: "not valid JSON") }
        return try directory(from: json, path: path)
    }

    /// Writes `directory` to `path` atomically.
    static func save(_ directory: Directory, to path: String) throws {
        try Data(json(of: directory).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The file's JSON text.
    static func json(of d: Directory) -> String {
        /// A string or null.
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        /// A map of strings as an object, keys sorted for stable files.
        func map(_ m: [String: String]) -> JSONValue { .object(m.keys.sorted().map { ($0, .string(m[$0]!)) }) }
        let visitors = d.visitors.keys.sorted().map { id -> JSONValue in
            let v = d.visitors[id]!
            return .object([("id", .string(v.id)), ("userId", .string(v.userId)), ("latestSession", text(v.latestSession))])
        }
        let users = d.users.keys.sorted().map { id -> JSONValue in
            let u = d.users[id]!
            return .object([
                ("id", .string(u.id)), ("externalId", text(u.externalId)), ("email", text(u.email)),
                ("name", text(u.name)), ("metadata", .object(u.metadata)), ("visitors", .array(u.visitors.map(JSONValue.string))),
            ])
        }
        return JSONValue.object([
            ("visitors", .array(visitors)), ("users", .array(users)), ("aliases", map(d.aliases)),
            ("emails", map(d.emails)), ("externalIds", map(d.externalIds)),
            ("sessionCounter", .number(String(d.sessionCounter))),
        ]).compact
    }

    /// Rebuilds a directory from the file's JSON.
    static func directory(from json: JSONValue, path: String) throws -> Directory {
        let bad = StateFileError(path: path, reason: "unexpected structure")
        /// A string member, nil when null or absent.
        func text(_ v: JSONValue, _ key: String) -> String? { v.member(key)?.stringValue }
        /// An object of strings as a map.
        func map(_ key: String) throws -> [String: String] {
            guard case .object(let members)? = json.member(key) else { throw bad }
            var out: [String: String] = [:]
            for (k, v) in members {
                guard let s = v.stringValue else { throw bad }
                out[k] = s
            }
            return out
        }
        guard case .array(let visitors)? = json.member("visitors"), case .array(let users)? = json.member("users") else {
            throw bad
        }
        var d = Directory()
        for v in visitors {
            guard let id = text(v, "id"), let userId = text(v, "userId") else { throw bad }
            d.visitors[id] = Visitor(id: id, userId: userId, latestSession: text(v, "latestSession"))
        }
        for u in users {
            guard let id = text(u, "id"), case .object(let metadata)? = u.member("metadata"),
                case .array(let visitorIds)? = u.member("visitors")
            else { throw bad }
            d.users[id] = User(
                id: id, externalId: text(u, "externalId"), email: text(u, "email"), name: text(u, "name"),
                metadata: metadata, visitors: visitorIds.compactMap(\.stringValue)
            )
        }
        d.aliases = try map("aliases")
        d.emails = try map("emails")
        d.externalIds = try map("externalIds")
        d.sessionCounter = json.member("sessionCounter")?.doubleValue.map { Int($0) } ?? 0
        return d
    }
}

/// A state file that could not be read.
struct StateFileError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "state file \(path): \(reason)" }
}

/// Saves the directory to the state file once a second when it changed, and at shutdown.
struct StateSaver: Service {
    let store: Store
    let path: String
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            save()
        }
        save()
    }

    /// Writes the directory if it changed since the last save.
    private func save() {
        guard let directory = store.takeChangedDirectory() else { return }
        do {
            try StateFile.save(directory, to: path)
        } catch {
            logger.error("could not save state", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
#endif
