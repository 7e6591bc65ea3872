"""The ports a suite's services listen on are never ones the kernel hands out to outgoing
connections: a service restarted on its port (a failover test reviving a killed replica)
must find it free, and an ephemeral port may meanwhile be the local end of any client's
connection."""

from __future__ import annotations

import socket

import pytest

from launcher.processes import ephemeral_ports, free_port, parse_port_range

pytestmark = pytest.mark.unit


def test_a_free_port_is_outside_the_kernels_ephemeral_range() -> None:
    low, high = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert all(not low <= p <= high for p in ports), (low, high, ports)
    assert len(set(ports)) == len(ports)
    for port in ports[:5]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nothing listens there


@pytest.mark.parametrize(
    ("text", "expected"),
    [("32768\t60999\n", (32768, 60999)), ("1024 65535", (1024, 65535)), ("", None), ("x y", None)],
)
def test_the_ephemeral_range_is_read_from_the_kernels_file(
    text: str, expected: tuple[int, int] | None
) -> None:
    assert parse_port_range(text) == expected
