"""Stand-ins for the outside world the tests (and the benches) deliver to: a real Kinesis and
STS API (moto), a proxy that injects Kinesis faults, a Segment HTTP API."""
