from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.service_settings import ServiceSettings


@dataclass(frozen=True)
class Settings(ServiceSettings):
    catalog_address: str = setting("127.0.0.1:50051", "catalog: gRPC listen address")
    catalog_database_url: str = setting(
        "sqlite+aiosqlite:///./data/catalog.db", "catalog: SQLAlchemy async database URL"
    )
