/// The few static pages a browser sees during a flow. Static on purpose: no request data is
/// ever interpolated, so there is nothing to escape and nothing to inject.
enum FlowPage {
    case completed
    case unknown
    case spent
    case forbidden
    case completionFailed
    case unavailable

    var html: [UInt8] {
        let (title, text): (String, String)
        switch self {
        case .completed:
            (title, text) = ("Authorisation complete", "You can close this window.")
        case .unknown:
            (title, text) = ("Link not found", "This sign-in link is unknown or has expired. Start again from your application.")
        case .spent:
            (title, text) = ("Link no longer valid", "This sign-in link has expired or was already used. Start again from your application.")
        case .forbidden:
            (title, text) = (
                "Not your sign-in",
                "This sign-in was started by another user or in another browser. Open the link from the same browser you started it in."
            )
        case .completionFailed:
            (title, text) = ("Something went wrong", "The authorisation could not be handed to your application. Start again from your application.")
        case .unavailable:
            (title, text) = ("Temporarily unavailable", "The sign-in service is temporarily unavailable. Try again in a moment.")
        }
        let document = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title)</title>
            <meta name="viewport" content="width=device-width, initial-scale=1"></head>
            <body style="font-family: sans-serif; max-width: 32em; margin: 4em auto;">
            <h1>\(title)</h1><p>\(text)</p></body></html>

            """
        return Array(document.utf8)
    }
}
