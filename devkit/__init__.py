"""Developer tooling: start the whole suite (make run, tests, bench), a producer, a receiver."""
