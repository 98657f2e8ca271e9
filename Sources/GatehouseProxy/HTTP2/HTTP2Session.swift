import CNGHTTP2

/// What an `HTTP2Session` reports while libnghttp2 reads a client's bytes. Every call comes from
/// inside `receive` (or, for `streamBody`, from inside `send`), on the connection's event loop.
protocol HTTP2SessionDelegate: AnyObject {
    /// A request's header block starts on a new stream.
    func streamBegan(_ id: Int32)
    /// One decoded request field (pseudo-fields included), already checked by nghttp2 against the
    /// RFC 9113 field rules. Trailer fields are not reported.
    func streamField(_ id: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
    /// The request's header block is complete; `endStream`: it has no body.
    func streamHeadComplete(_ id: Int32, endStream: Bool)
    /// Request body bytes (pointing into the bytes given to `receive`).
    func streamData(_ id: Int32, _ data: UnsafeRawBufferPointer)
    /// The request ended (END_STREAM on DATA or on trailers).
    func streamEnded(_ id: Int32)
    /// The stream is closed (answered and ended, or reset by either side).
    func streamClosed(_ id: Int32, errorCode: UInt32)
    /// Response body bytes for `id`, copied into `buffer`: the count and whether the body ends
    /// there; nil when no byte is ready yet (the stream waits for `resumeData`).
    func streamBody(_ id: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool)?
    /// The peer acknowledged the PING sent by `ping()`.
    func pingAcknowledged()
    /// The peer sent a frame nghttp2 refused as a stream error (a malformed request, a stream
    /// over the concurrency limit…).
    func invalidFrame()
}

/// One server-side HTTP/2 session of libnghttp2, driven with bytes: `receive` what the client
/// sent, `send` what is to go out. nghttp2 does the framing, HPACK, flow control, stream states,
/// SETTINGS and PING, and the RFC 9113 message checks (pseudo-fields, connection-specific fields,
/// `content-length` against DATA); its flood limits end abusive connections (docs/http.md "HTTP/2").
final class HTTP2Session {
    struct Limits {
        var maxConcurrentStreams: UInt32 = 256
        var maxHeaderListBytes: UInt32 = 32768
        /// Per stream; bytes wait unconsumed (and so unacknowledged) while the upstream is slow.
        var streamWindow: UInt32 = 1 << 20
        var connectionWindow: Int32 = 1 << 22
        /// RST_STREAM frames a client may send: a burst, then so many a second (rapid reset).
        var resetBurst: UInt64 = 200
        var resetsPerSecond: UInt64 = 7
        /// Extended CONNECT (RFC 8441): WebSocket over HTTP/2.
        var enableConnectProtocol = true
    }

    private var session: OpaquePointer?
    private unowned let delegate: HTTP2SessionDelegate

    init(delegate: HTTP2SessionDelegate, limits: Limits) {
        self.delegate = delegate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.setCallbacks(callbacks)

        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Window updates only for bytes actually taken (`consume`): backpressure to the client.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_stream_reset_rate_limit(option, limits.resetBurst, limits.resetsPerSecond)

        nghttp2_session_server_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: limits.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: limits.streamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: limits.maxHeaderListBytes),
        ]
        if limits.enableConnectProtocol {
            settings.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL.rawValue), value: 1))
        }
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, limits.connectionWindow)
    }

    deinit { nghttp2_session_del(session) }

    // MARK: - Bytes in and out

    /// Reads the client's bytes: the count read, or a negative nghttp2 error (the connection
    /// must end: `NGHTTP2_ERR_FLOODED`, a bad preface, a callback failure).
    func receive(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// The next bytes to send (valid until the next call), or nil when nothing is queued.
    func nextOutput() -> UnsafeRawBufferPointer? {
        var data: UnsafePointer<UInt8>?
        let n = nghttp2_session_mem_send(session, &data)
        guard n > 0, let data else { return nil }
        return UnsafeRawBufferPointer(start: data, count: n)
    }

    /// Neither side has anything more to say: the connection can close.
    var isFinished: Bool { nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 }

    // MARK: - Responses

    /// Queues a response head for `id`; with `hasBody`, DATA follows from `streamBody`, else the
    /// HEADERS frame ends the stream. Fields are copied.
    func submitResponse(_ id: Int32, fields: inout HTTP2FieldList, hasBody: Bool) -> Bool {
        fields.withNV { nva, count in
            if hasBody {
                var provider = Self.bodyProvider()
                return nghttp2_submit_response(session, id, nva, count, &provider) == 0
            }
            return nghttp2_submit_response(session, id, nva, count, nil) == 0
        }
    }

    /// An informational head (`100 Continue`) on `id`.
    func submitInformational(_ id: Int32, fields: inout HTTP2FieldList) {
        fields.withNV { nva, count in
            _ = nghttp2_submit_headers(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, nil, nva, count, nil)
        }
    }

    /// A stream whose body had no bytes ready takes DATA again.
    func resumeData(_ id: Int32) { _ = nghttp2_session_resume_data(session, id) }

    func resetStream(_ id: Int32, code: nghttp2_error_code) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, code.rawValue)
    }

    /// Request body bytes of `id` were taken: the client may send that many more (WINDOW_UPDATE).
    func consume(_ id: Int32, _ count: Int) { _ = nghttp2_session_consume(session, id, count) }

    // MARK: - Ending the connection

    /// Drain, step one: GOAWAY with the highest stream id, and a PING to time the round trip.
    func shutdownNotice() {
        _ = nghttp2_submit_shutdown_notice(session)
        _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// Drain, step two: GOAWAY naming the last stream taken; later streams are ignored, earlier
    /// ones run to their end.
    func goAway() {
        _ = nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), NGHTTP2_NO_ERROR.rawValue, nil, 0)
    }

    /// GOAWAY with `code`, after which nothing more is read: the connection ends once it is sent.
    func terminate(_ code: nghttp2_error_code) { _ = nghttp2_session_terminate_session(session, code.rawValue) }

    // MARK: - Callbacks (C function pointers; `user` is this session, unretained)

    private static func from(_ user: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(user!).takeUnretainedValue()
    }

    private static func isRequestHead(_ frame: UnsafePointer<nghttp2_frame>) -> Bool {
        frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) && frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
    }

    private static func setCallbacks(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            guard let frame, HTTP2Session.isRequestHead(frame) else { return 0 }
            HTTP2Session.from(user).delegate.streamBegan(frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            // Trailer fields are dropped, like HTTP/1.1 request trailers.
            guard let frame, HTTP2Session.isRequestHead(frame) else { return 0 }
            HTTP2Session.from(user).delegate.streamField(
                frame.pointee.hd.stream_id, name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
            return 0
        }
        // A field nghttp2 would otherwise skip silently (a name or value with bytes HTTP does not
        // allow): the request is malformed, and the stream is reset (RFC 9113 8.2.1).
        nghttp2_session_callbacks_set_on_invalid_header_callback(callbacks) { _, _, _, _, _, _, _, _ in
            Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame else { return 0 }
            let hd = frame.pointee.hd
            let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            let delegate = HTTP2Session.from(user).delegate
            switch UInt32(hd.type) {
            case NGHTTP2_HEADERS.rawValue:
                if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                    delegate.streamHeadComplete(hd.stream_id, endStream: endStream)
                } else if endStream {
                    delegate.streamEnded(hd.stream_id)
                }
            case NGHTTP2_DATA.rawValue:
                if endStream { delegate.streamEnded(hd.stream_id) }
            case NGHTTP2_PING.rawValue:
                if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { delegate.pingAcknowledged() }
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks) { _, _, _, user in
            HTTP2Session.from(user).delegate.invalidFrame()
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, id, data, length, user in
            HTTP2Session.from(user).delegate.streamData(id, UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, id, code, user in
            HTTP2Session.from(user).delegate.streamClosed(id, errorCode: code)
            return 0
        }
    }

    /// DATA for a response: as many bytes as the stream has ready, or "deferred" until `resumeData`.
    private static func bodyProvider() -> nghttp2_data_provider {
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, id, buffer, length, flags, _, user in
            let target = UnsafeMutableRawBufferPointer(start: buffer, count: length)
            guard let (count, end) = HTTP2Session.from(user).delegate.streamBody(id, into: target) else {
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
            if end { flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
            return count
        }
        return provider
    }
}
