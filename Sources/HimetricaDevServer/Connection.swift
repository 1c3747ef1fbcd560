#if DevServer  // a package trait (Package.swift)
import Hummingbird
import NIOCore
import NIOHTTPTypes
import ServiceLifecycle

/// The request context: Hummingbird's core storage plus the connection, which fault injection
/// closes (drop, down) or waits on (hang).
struct DevContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Thrown after the connection was closed on purpose, so that nothing is answered.
struct ConnectionClosedOnPurpose: Error {}

extension DevContext {
    /// Closes the connection without writing any answer; the client sees an empty reply or a reset.
    func closeWithoutAnswer() async -> ConnectionClosedOnPurpose {
        try? await channel.close()
        return ConnectionClosedOnPurpose()
    }

    /// Waits until the client closes the connection (or the server shuts down), never answering.
    func hang() async -> ConnectionClosedOnPurpose {
        let channel = self.channel
        // The server allows remote half-closure, so a client giving up shows as "input closed",
        // not as a closed channel: watch for it and close.
        try? await channel.pipeline.addHandler(HangWatcher(), position: .first)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        return ConnectionClosedOnPurpose()
    }
}

/// Half-closes a connection (sends FIN) once a response carrying `Connection: close` is fully
/// written, so a client that is still uploading an oversized body stops instead of the server
/// draining it.
final class CloseAfterResponseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterEnd = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closeAfterEnd = head.headerFields[.connection] == "close"
            context.write(data, promise: promise)
        case .end where closeAfterEnd:
            closeAfterEnd = false
            context.writeAndFlush(data, promise: promise)
            context.close(mode: .output, promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }
}

/// Added to a hung request's connection: closes it once the client stops sending (half-closes)
/// or goes away, which ends the hang.
final class HangWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
#endif
