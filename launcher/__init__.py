"""The launcher: the whole suite on one machine as supervised processes (`eventstreams-up`,
which `make run` runs) — a nats-server with JetStream, catalog, control, router, delivery
workers and the gateway, with SQLite under ./data."""
