"""The shared runtime every service is built on: settings, logging, errors, gRPC bootstrap,
storage, paging, JetStream wiring. Written once, used by all."""
