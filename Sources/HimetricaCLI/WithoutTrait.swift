#if !CLI  // a package trait (Package.swift)
import Glibc

/// The `himetrica` command built without the CLI trait: it says how to build the real one.
@main
enum HimetricaCommandWithoutTrait {
    static func main() {
        fputs("himetrica was built without the CLI trait: swift build --traits CLI --product himetrica\n", stderr)
        exit(2)
    }
}
#endif
