"""The catalog's composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from eventstreams.v1 import catalog_pb2, catalog_pb2_grpc
from runtime import db
from runtime.change_signal import ChangeSignal
from runtime.grpc_server import Registration, ServiceApp
from runtime.metrics import Metrics
from services.catalog import catalogue
from services.catalog.registry import Quotas, Registry
from services.catalog.servicer import CatalogServicer
from services.catalog.settings import Settings
from services.catalog.store import CatalogStore

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


async def build(settings: Settings) -> ServiceApp:
    engine = db.create_engine(settings.catalog_database_url)
    await db.migrate(engine, MIGRATIONS, "catalog_alembic_version")
    sessions = db.sessionmaker(engine)
    store = CatalogStore(sessions)
    changed = await store.seed(catalogue.event_types(), catalogue.schema_versions())
    log.info("catalogue seeded: %d rows added or refreshed", changed)
    signal = ChangeSignal()
    registry = Registry(
        sessions,
        signal,
        settings.schema_compatibility,
        Quotas(settings.registry_max_types_per_owner, settings.registry_max_versions_per_schema),
    )
    return ServiceApp(
        callers=settings.callers(),
        metrics=Metrics.of("catalog", settings),
        name="catalog",
        address=settings.catalog_address,
        services=[
            Registration(
                catalog_pb2.DESCRIPTOR.services_by_name["Catalog"].full_name,
                catalog_pb2_grpc.add_CatalogServicer_to_server,
                CatalogServicer(store, registry, sessions, signal, settings.catalog_poll_seconds),
            )
        ],
        closers=[engine.dispose],
    )
