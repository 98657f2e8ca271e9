import FuzzDriver
@_spi(Fuzzing) import GatehouseProxy

// HTTP/2 frames from a client, through nghttp2 and the head builder, in one read and in two.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    ProxyFuzzHooks.http2Requests(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

// In a debug build SwiftPM links an executable with `main` set to `<target>_main` (so that tests
// can import it); that entry point hands over to libFuzzer's driver (its flags, corpus,
// findings). A release build uses libFuzzer's own `main`, which calls the function above.
@_cdecl("FuzzHTTP2Requests_main")
public func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzz)
}
