#if DevServer  // a package trait (Package.swift)
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the dev server as a Hummingbird application, ready to `run()` or to test in-process.
/// `onListening` is called with the bound port once the server accepts connections.
/// Throws when the `--state` file exists but cannot be read.
public func buildApplication(
    _ options: DevServerOptions,
    logger: Logger = Logger(label: "himetrica-devserver"),
    onListening: @escaping @Sendable (Int) -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let directory = try options.stateFile.map(StateFile.load) ?? Directory()
    let server = DevServer(options: options, directory: directory)
    var services: [any Service] = []
    if let path = options.stateFile {
        services.append(StateSaver(store: server.store, path: path, logger: logger))
    }
    return Application(
        responder: DevResponder(server: server),
        server: .http1(configuration: .init(additionalChannelHandlers: [CloseAfterResponseHandler()])),
        configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: nil),
        services: services,
        onServerRunning: { channel in onListening(channel.localAddress?.port ?? options.port) },
        logger: logger
    )
}
#endif
