from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting


@dataclass(frozen=True)
class Settings:
    catalog_address: str = setting("127.0.0.1:50051", "catalog: gRPC listen address")
    catalog_database_url: str = setting(
        "sqlite+aiosqlite:///./data/catalog.db", "catalog: SQLAlchemy async database URL"
    )
    log_level: str = setting("INFO", "log level of every service")
    service_token: str = setting(
        "", "shared secret of every internal gRPC call (runtime/service_auth.py); empty: not checked"
    )
