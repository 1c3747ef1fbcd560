// libFuzzer target for the rules (layer 1): JSON checking and compaction, timestamps, identities,
// event names, sessions, secret keys and the request bodies built from them.
//
// Built by `make fuzz` / `make fuzz-short` (Tests/fuzz/run.sh) with
//   swiftc -sanitize=fuzzer,address -parse-as-library -module-name HimetricaRules \
//     Sources/HimetricaRules/*.swift Tests/fuzz/FuzzRules.swift
// so the rules' code is instrumented and compiled together with this entry point.
//
// Input: the first byte picks what is fuzzed; the rest is split at 0x00 into arguments.
// Besides "no crash, no sanitizer report", each check has an oracle: what the rules accept
// must be well-formed (compact JSON compacts to itself, bodies are valid JSON objects, a
// masked key never shows more than four of its characters).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let selector = bytes[0]
    let rest = UnsafeBufferPointer(rebasing: bytes[1...])
    let parts = rest.split(separator: 0, maxSplits: 6, omittingEmptySubsequences: false).map { Array($0) }
    func text(_ i: Int) -> String? { i < parts.count ? String(decoding: parts[i], as: UTF8.self) : nil }

    switch selector % 6 {
    case 0:
        // The raw bytes as properties / traits JSON text.
        fuzzJSON(rest, stringMembers: selector & 0x80 == 0 ? [] : RequestBody.namedTraits)
    case 1:
        if let t = text(0) {
            if (try? Timestamp.validate(t)) != nil { expect(t.utf8.count >= 20, "a valid timestamp is at least 20 bytes") }
        }
    case 2:
        let given = [text(0), text(1), text(2)]
        let mask = Int(selector >> 3) & 7
        let identity = try? Identity.exactlyOne(
            userId: mask & 1 != 0 ? given[0] : nil, email: mask & 2 != 0 ? given[1] : nil,
            visitorId: mask & 4 != 0 ? given[2] : nil)
        if let identity { expect((try? identity.validate()) != nil, "exactlyOne returned an invalid identity") }
        if let v = text(0) {
            if (try? Identity.validate(v, field: "visitorId")) != nil {
                expect(!v.isEmpty && v.utf8.count <= 512, "accepted an empty or too long identity")
            }
        }
    case 3:
        if let name = text(0) {
            if (try? EventName.validate(name)) != nil {
                expect(name.utf8.allSatisfy { $0 == 0x5F || $0 == 0x2D || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) },
                       "accepted an event name outside [A-Za-z0-9_-]")
            }
        }
        if let s = text(1) { _ = try? Session.parse(s) }
    case 4:
        // A whole track or identify body from fuzzed parts.
        guard let value = text(0), let identity = try? Identity.exactlyOne(userId: nil, email: nil, visitorId: value)
        else { return 0 }
        if selector & 0x80 == 0 {
            let properties = parts.count > 2 ? parts[2].withUnsafeBufferPointer { try? JSONText.compactObject($0, field: "properties") } : nil
            let session = text(4).flatMap { try? Session.parse($0) }
            if let body = try? RequestBody.track(
                eventName: text(1) ?? "e", identity: identity, properties: properties, timestamp: text(3),
                session: session, capturedAtMilliseconds: Int64(truncatingIfNeeded: size) &* 1_000_003)
            {
                expectObject(body)
            }
        } else if parts.count > 1, let traits = parts[1].withUnsafeBufferPointer({
            try? JSONText.compactObject($0, field: "traits", stringMembers: RequestBody.namedTraits)
        }) {
            if let body = try? RequestBody.identify(identity: identity, traits: traits) { expectObject(body) }
            _ = RequestBody.linkedIdentity(identity: identity, traits: traits)
            _ = JSONText.topLevelString("email", in: traits)
        }
    default:
        if let key = text(0) {
            let valid = (try? SecretKey.validate(key)) != nil
            let masked = SecretKey.masked(key)
            // At most the prefix, an ellipsis and the key's last four characters.
            let shown = masked.dropFirst(SecretKey.prefix.count + 1)
            expect(masked.hasPrefix(SecretKey.prefix + "…") && shown.count <= 4 && (shown.isEmpty || key.hasSuffix(shown)),
                   "the masked key shows more than its last four characters")
            _ = valid
        }
        if let ms = parts.first.map({ $0.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) } }) {
            if let formatted = try? Timestamp.format(unixMilliseconds: ms) {
                expect((try? Timestamp.validate(formatted)) != nil, "a formatted timestamp does not validate: \(formatted)")
            }
        }
    }
    return 0
}

private func fuzzJSON(_ input: UnsafeBufferPointer<UInt8>, stringMembers: [String]) {
    guard let compact = try? JSONText.compactObject(input, field: "properties", stringMembers: stringMembers) else { return }
    expect(compact.count <= Limits.maxPropertiesBytes, "compact form over the limit: \(compact.count)")
    expect(compact.withUnsafeBufferPointer { JSONText.isValidUTF8($0) }, "compact form is not valid UTF-8")
    // Compact text is a fixed point.
    let again = compact.withUnsafeBufferPointer { try? JSONText.compactObject($0, field: "properties", stringMembers: stringMembers) }
    expect(again == compact, "compacting twice changed the text")
    _ = JSONText.topLevelString("email", in: compact)
}

/// A body the rules built must itself be a JSON object (checked without the size limit). The
/// body holds the properties or traits one level deeper than they were checked at, so a payload
/// nested to the limit puts the body one level over it: that is the one failure allowed.
private func expectObject(_ body: [UInt8]) {
    guard body.count <= Limits.maxPropertiesBytes else { return }
    let checked = body.withUnsafeBufferPointer { buffer in
        Result { () throws(ValidationError) in try JSONText.compactObject(buffer, field: "body") }
    }
    switch checked {
    case .success(let compact):
        expect(compact == body, "a built body is not compact JSON: \(String(decoding: body, as: UTF8.self))")
    case .failure(let error):
        expect(error.rule == JSONWriter.tooDeep(field: "").rule,
               "a built body is not JSON (\(error)): \(String(decoding: body, as: UTF8.self))")
    }
}

private func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        print("fuzz oracle failed: \(message())")
        fatalError(message())
    }
}
