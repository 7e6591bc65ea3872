from __future__ import annotations

from dataclasses import dataclass

from runtime.config import ConfigError, setting
from runtime.service_settings import ServiceSettings
from services.catalog import compatibility


@dataclass(frozen=True)
class Settings(ServiceSettings):
    catalog_address: str = setting("127.0.0.1:50051", "catalog: gRPC listen address")
    catalog_database_url: str = setting(
        "sqlite+aiosqlite:///./data/catalog.db", "catalog: SQLAlchemy async database URL"
    )
    schema_compatibility: str = setting(
        "FULL",
        "catalog: the schema registry's compatibility mode for a schema without its own — BACKWARD, "
        "FORWARD, FULL or NONE, checked against every previous version; FULL because producers may "
        "publish at any version and subscribers may be pinned to any",
    )
    registry_max_types_per_owner: int = setting(
        1000,
        "catalog: the most event types one caller (a producer team's credential) may register; "
        "more is RESOURCE_EXHAUSTED",
    )
    registry_max_versions_per_schema: int = setting(
        100, "catalog: the most versions a registered schema may have; more is RESOURCE_EXHAUSTED"
    )
    catalog_poll_seconds: float = setting(
        0.25, "catalog: how often WatchCatalog checks the database for changes made by other replicas"
    )

    def __post_init__(self) -> None:
        try:
            compatibility.normalize_mode(self.schema_compatibility)
        except ValueError as exc:
            raise ConfigError(f"ES_SCHEMA_COMPATIBILITY: {exc}") from exc
        if self.registry_max_types_per_owner < 1:
            raise ConfigError("ES_REGISTRY_MAX_TYPES_PER_OWNER: must be at least 1")
        if self.registry_max_versions_per_schema < 1:
            raise ConfigError("ES_REGISTRY_MAX_VERSIONS_PER_SCHEMA: must be at least 1")
        if self.catalog_poll_seconds <= 0:
            raise ConfigError("ES_CATALOG_POLL_SECONDS: must be positive")
