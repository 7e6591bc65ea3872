"""Schemathesis extension loaded by tests/e2e/test_schemathesis.py (through SCHEMATHESIS_HOOKS).

One run-level check of our own, `every_operation_succeeds`: every operation of the spec must
answer 2xx at least once during the run. Without it, "every response conforms to the spec" could
hold vacuously for an operation that only ever answered 4xx (a missing route, a validation that
rejects Twilio's own documented requests): the built-in checks accept any documented error.
The test seeds real resources and puts them into the spec's examples, so a 2xx is always reachable.
"""

from __future__ import annotations

from typing import Any

import schemathesis

# How many distinct non-2xx answers to quote per operation in the failure message, and how many to keep.
QUOTED_ANSWERS = 3
KEPT_ANSWERS = 50
# Answers to probes (no credentials, an undeclared method) say little about why an operation fails.
PROBE_STATUSES = (401, 405)


@schemathesis.check
class every_operation_succeeds:  # lower case: the class name is the check's name in --checks
    def __init__(self) -> None:
        self.tested: set[str] = set()
        self.succeeded: set[str] = set()
        self.answers: dict[str, dict[tuple[int, str], str]] = {}

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        label = case.operation.label
        self.tested.add(label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(label)
            return
        answers = self.answers.setdefault(label, {})
        if len(answers) < KEPT_ANSWERS:
            body = response.content[:300].decode("utf-8", "replace")
            request = response.request
            answers.setdefault((response.status_code, body), f"{request.method} {request.url}")

    def after_run(self, ctx: Any) -> None:
        never = sorted(self.tested - self.succeeded)
        if not never:
            return
        lines = [f"{len(never)} operation(s) never answered 2xx during the whole run:"]
        for label in never:
            lines.append(f"  {label}")
            answers = sorted(self.answers.get(label, {}).items(), key=lambda a: a[0][0] in PROBE_STATUSES)
            for (status, body), request in answers[:QUOTED_ANSWERS]:
                lines.append(f"    {status} to {request}\n      {body}")
        raise AssertionError("\n".join(lines))
