"""What the HTTP server and the HTTP clients share: error codes and JSON decoders.

The client never imports the server (nor FastAPI); both import this package, so a change to
the wire format is made once. Pure data and pure functions: no web framework, no HTTP library.
"""
