"""The HTTP API: routers per audience, assembled in `gateway.api.app`."""
