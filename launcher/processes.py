"""Child processes that are really started, polled until ready, and stopped cleanly."""

from __future__ import annotations

import os
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


def free_port() -> int:
    """A port nothing listens on, and one this process has not handed out before (the OS
    may offer a just-closed port again: two services of one suite must never share one)."""
    while True:
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
