#if !CLI  // a package trait (Package.swift)
import Glibc

/// The `himetrica` command built without the CLI trait: it says how to build the real one.
@main
enum HimetricaCommandWithoutTrait {
    static func main() {
        // `stderr` is a C global that Swift 6 refuses to read; write(2) needs none.
        let message = "himetrica was built without the CLI trait: swift build --traits CLI --product himetrica\n"
        _ = write(2, message, message.utf8.count)
        exit(2)
    }
}
#endif
