@testable import HimetricaRules
import Testing

@Suite struct SecretKeyTests {
    @Test func sha256MatchesTheStandardVectors() {
        func hex(_ text: String) -> String {
            SHA256.hash(text.utf8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        }
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks: the padding crosses a block boundary.
        #expect(
            hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func fingerprintIsStableOneWayAndShort() {
        let key = "hm_sk_live_0123456789abcdef"
        let fingerprint = SecretKey.fingerprint(key)
        #expect(fingerprint == SecretKey.fingerprint(key))
        #expect(fingerprint.hasPrefix("fp_") && fingerprint.count == 19)
        #expect(!fingerprint.contains("0123456789abcdef"))
        #expect(fingerprint != SecretKey.fingerprint(key + "x"))
    }
}
