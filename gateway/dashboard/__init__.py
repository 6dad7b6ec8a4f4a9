"""The operations dashboard's static files, served by `gateway.api.dashboard`."""
