"""Child processes that are really started, polled until ready, and stopped cleanly."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent


_handed_out: set[int] = set()


def installed(command: str, package: str) -> str:
    """A command a PyPI package installs: beside this Python first (the venv), else on PATH."""
    beside_python = Path(sys.executable).parent / command
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(command)
    if found is None:
        raise FileNotFoundError(f"{command} not found: pip install '{package}'")
    return found


# Where ports are picked when the kernel's ephemeral range leaves room below it.
LISTEN_PORTS = (10000, 32767)
PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def parse_port_range(text: str) -> tuple[int, int] | None:
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' local ports from (Linux's default
    where it cannot be read)."""
    try:
        found = parse_port_range(PORT_RANGE_FILE.read_text())
    except OSError:
        found = None
    return found or (32768, 60999)


def free_port() -> int:
    """A port nothing listens on, that this process has not handed out before, and outside
    the kernel's ephemeral range: a port bound with 0 comes from that range, and while its
    service is down (a replica killed and revived on its port) any client's outgoing
    connection may take it as its local end — the revived service then fails to bind."""
    low = ephemeral_ports()[0]
    first, last = LISTEN_PORTS[0], min(LISTEN_PORTS[1], low - 1)
    for _ in range(200) if last > first else ():
        port = random.randint(first, last)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    while True:  # no room below the ephemeral range: the kernel's choice
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def python_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "gen"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start(name: str, argv: list[str], env: Mapping[str, str], log_dir: Path | None) -> Child:
    log = None
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log = open(log_path, "ab")
    process = subprocess.Popen(
        argv, env=dict(env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT if log else None
    )
    return Child(name, process, log_path, log)


def start_python(name: str, module: str, env: Mapping[str, str], log_dir: Path | None) -> Child:
    return start(name, [sys.executable, "-m", module], python_env(env), log_dir)


def wait_until(check: Callable[[], bool], child: Child | None, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{what} exited with {child.process.returncode}:\n{child.tail()}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    tail = child.tail() if child else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s\n{tail}")


def grpc_serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
