"""The services' NATS seam: the one package that writes NATS protocol bytes or touches
nats-py's internals. Everything above it speaks in subjects, header blocks, messages and
statuses; tests/unit/test_nats_seam.py keeps it that way.

- `headers`: the header block — its framing, `clean` for values, the fast decoder.
- `parser`: the fast protocol reader (MSG / HMSG) behind the services' client.
- `client`: the services' client (`HeaderParsingClient`), direct and raw subscriptions.
- `publish`: HPUB framing, publishing through the client's send path, JetStream's answer
  to a publish read.
- `acks`: acknowledging (one PUB command per message, a call's as one write) and reading
  a JetStream reply subject.
- `pull`: pull requests to a consumer, and the statuses JetStream answers them with.
- `api`: JetStream's API spoken raw, for what nats-py does not say (stream placement and
  first stored time, leader step-downs, consumers with priority groups).

Each fast path here is held to nats-py's own result by a test (tests/unit/
test_fast_encodings.py, test_nats_parser.py, test_nats_seam.py): nats-py is pinned in the
locks, and a change of its internals shows there first."""
