#if Hummingbird  // a package trait (Package.swift)
// What `import HimetricaHummingbird` gives an app besides its own middleware: the client (with its
// nested types, `HimetricaClient.Configuration`, `.Identity`...), its errors, and the
// request-tracking types both middlewares share. Single symbols, not whole modules.
@_exported import class Himetrica.HimetricaClient
@_exported import enum HimetricaCore.HimetricaError
@_exported import struct HimetricaServerSupport.HimetricaRequestHandle
@_exported import struct HimetricaServerSupport.HimetricaRequestTracking
@_exported import enum HimetricaServerSupport.HimetricaVisitorSource
#endif
