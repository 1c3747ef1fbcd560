// `himetrica-devserver`: the dev server's command line (HimetricaDevServer holds all of it).
#if DevServer  // a package trait (Package.swift)
import HimetricaDevServer

/// Runs ``DevServerCommand`` (an async command: ArgumentParser needs the availability
/// annotation to pick its async entry point; it changes nothing on Linux).
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
@main
enum DevServerMain {
    static func main() async {
        await DevServerCommand.main()
    }
}
#else
import Glibc

/// Built without the DevServer trait: says how to build it, instead of failing to link.
@main
enum DevServerMain {
    static func main() {
        // `stderr` is a C global that Swift 6 refuses to read; write(2) needs none.
        let message = "himetrica-devserver was built without the DevServer trait: swift build --traits DevServer --product himetrica-devserver\n"
        _ = write(2, message, message.utf8.count)
        exit(2)
    }
}
#endif
