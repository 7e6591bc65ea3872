"""Control's composition root."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from eventstreams.v1 import catalog_pb2_grpc, control_pb2, control_pb2_grpc, router_pb2_grpc
from runtime import clients, db
from runtime.change_signal import ChangeSignal
from runtime.grpc_server import Registration, ServiceApp
from runtime.metrics import Metrics
from runtime.token_cipher import TokenCipher
from services.control.accounts import AccountStore
from services.control.adapters import CatalogTypeResolver, RouterTestEventPublisher
from services.control.routing_feed import RoutingFeed
from services.control.servicer import ControlServicer
from services.control.settings import Settings
from services.control.sinks import KinesisTrust, SinkStore
from services.control.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


async def ensure_dev_account(accounts: AccountStore, settings: Settings) -> None:
    """The development account: TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN when set, otherwise
    the one generated at the first start, kept in the database and written to a file."""
    path = Path(settings.dev_account_file)
    sid, token = settings.dev_account_sid, settings.dev_auth_token
    if not sid and path.exists():
        saved = json.loads(path.read_text())
        sid, token = saved["account_sid"], saved["auth_token"]
    existing = await accounts.get(sid) if sid else None
    if existing is None:
        existing = await accounts.create("Development account", sid=sid, auth_token=token)
        log.info("created development account %s", existing.sid)
    elif token and existing.auth_token != token:
        log.warning("development account %s exists with another auth token; keeping it", sid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"account_sid": existing.sid, "auth_token": existing.auth_token}, indent=2))
    path.chmod(0o600)


async def build(settings: Settings) -> ServiceApp:
    engine = db.create_engine(settings.control_database_url)
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    sessions = db.sessionmaker(engine)
    catalog_channel = clients.channel(settings.catalog_target, settings.service_token)
    router_channel = clients.channel(settings.router_target, settings.service_token)
    signal = ChangeSignal()
    cipher = TokenCipher(settings.token_encryption_key)
    if not cipher.enabled:
        log.warning("ES_TOKEN_ENCRYPTION_KEY is not set: accounts' auth tokens are stored unencrypted")
    accounts = AccountStore(sessions, settings.max_subaccounts_per_account, cipher)
    sealed = await accounts.seal_stored_tokens()
    if sealed:
        log.info("sealed %d auth token(s) stored in the clear or under an older key", sealed)
    kinesis = KinesisTrust(settings.kinesis_external_id_secret, settings.platform_aws_account_id)
    sinks = SinkStore(
        sessions,
        settings.max_sinks_per_account,
        RouterTestEventPublisher(router_pb2_grpc.RouterStub(router_channel)),
        settings.allow_private_destinations,
        kinesis,
        tree=settings.tree_limits(),
        cipher=cipher,
    )
    sealed = await sinks.seal_stored_secrets()
    if sealed:
        log.info("sealed %d sink signing secret(s) stored in the clear or under an older key", sealed)
    subscriptions = SubscriptionStore(
        sessions,
        settings.max_subscriptions_per_account,
        CatalogTypeResolver(catalog_pb2_grpc.CatalogStub(catalog_channel)),
        tree=settings.tree_limits(),
    )
    if settings.dev_account:
        await ensure_dev_account(accounts, settings)
    feed = RoutingFeed(sessions, signal, settings.routing_poll_seconds, cipher, kinesis)
    servicer = ControlServicer(accounts, sinks, subscriptions, feed, signal)

    async def close() -> None:
        await catalog_channel.close()
        await router_channel.close()
        await engine.dispose()

    return ServiceApp(
        callers=settings.callers(),
        metrics=Metrics.of("control", settings),
        name="control",
        address=settings.control_address,
        services=[
            Registration(
                control_pb2.DESCRIPTOR.services_by_name["Control"].full_name,
                control_pb2_grpc.add_ControlServicer_to_server,
                servicer,
            )
        ],
        closers=[close],
        # Watch streams never end by themselves; do not wait for them at shutdown.
        grace_seconds=1.0,
    )
