"""HTTP server (extra ``[server]``): ``akindb serve``; build the app with
``akindb.server.app.create_app(ServerSettings(db=...))``. Importing this package needs no
web framework; ``akindb.server.app`` does."""
