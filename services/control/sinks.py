"""Sinks: creation with validated configuration, Twilio's lifecycle (test, validate), limits,
and a webhook's own Standard Webhooks secret (made here, sealed at rest as auth tokens are,
shown to its owner, rotated on request)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import addresses, sids, sink_configs
from runtime.errors import FailedPrecondition, InvalidArgument, LimitExceeded, NotFound
from runtime.paging import Page, fetch_page
from runtime.sinks import registry
from runtime.sinks.webhook import new_signing_secret
from runtime.times import utcnow
from runtime.token_cipher import PREFIX, TokenCipher
from services.control import limits, revision, trees, validation
from services.control.models import SinkRow, SubscriptionRow
from services.control.ports import TestEventPublisher

STATUSES = ("initialized", "validating", "active", "failed")
# Our extension's status: the owner paused the sink (its row's `paused`, beside its status).
PAUSED = "paused"
EXTERNAL_ID_PATH = "/v1/Sinks/Kinesis/ExternalId"
# How long a rotated-out signing secret still signs beside the new one (Svix: 24 h).
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class SigningSecret:
    """A webhook sink's Standard Webhooks secret, revealed, and the one a rotation replaced
    while it still signs ("" and None when there is none)."""

    secret: str
    created: datetime
    previous: str = ""
    previous_expires: datetime | None = None


@dataclass(frozen=True)
class KinesisTrust:
    """What the role of a sink that assumes one (Kinesis and the other AWS sinks) must trust:
    the ExternalId issued to its account (sink_configs.issued_external_id under `secret`), and
    never a role in the platform's own AWS account (`platform_account`, 12 digits; "" when the
    operator does not say)."""

    secret: str = ""
    platform_account: str = ""

    def external_id(self, account_sid: str) -> str:
        return sink_configs.issued_external_id(account_sid, self.secret)

    def refusal(self, account_sid: str, config: sink_configs.AwsTarget) -> str | None:
        """Why this configuration may not be created for this account, or None."""
        own = self.platform_account.strip()
        if own and sink_configs.role_account(config.role_arn) == own.zfill(12):
            return (
                f"role_arn {config.role_arn} is in this deployment's own AWS account ({own}): "
                "create the role in your AWS account"
            )
        issued = self.external_id(account_sid)
        if config.external_id != issued:
            return (
                f"external_id must be the ExternalId issued to account {account_sid}, {issued} "
                f"(GET {EXTERNAL_ID_PATH}); make the role trust only it (sts:ExternalId)"
            )
        return None

    def routed(self, sink_type: str, account_sid: str, configuration_json: str) -> str:
        """A sink's configuration as delivery gets it: one that assumes a role with its
        account's issued ExternalId, whatever is stored — a sink stored before ExternalIds were issued
        carries its tenant's choice, which may be another tenant's."""
        kind = registry.find(sink_type)
        if kind is None or not kind.assumes_role:
            return configuration_json
        try:
            config = json.loads(configuration_json)
        except ValueError:
            return configuration_json  # delivery refuses it as it is
        if not isinstance(config, dict):
            return configuration_json
        return json.dumps({**config, "external_id": self.external_id(account_sid)})


def previous_expires(row: SinkRow) -> datetime | None:
    """Until when the secret a rotation replaced signs beside the new one (None: no rotation)."""
    expires = row.previous_signing_secret_expires
    if expires is not None and expires.tzinfo is None:  # SQLite keeps no zone: stored as UTC
        expires = expires.replace(tzinfo=UTC)
    return expires


def not_found(sid: str) -> NotFound:
    return NotFound(f"The requested resource /Sinks/{sid} was not found", twilio_code=20404)


class SinkStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_per_account: int,
        tests: TestEventPublisher,
        allow_private_destinations: bool = False,
        kinesis: KinesisTrust | None = None,
        *,
        tree: limits.TreeLimits | None = None,
        cipher: TokenCipher | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher or TokenCipher("")
        self._tree = tree or limits.TreeLimits()
        self._max = max_per_account
        self._tests = tests
        self._allow_private = allow_private_destinations
        self.kinesis = kinesis or KinesisTrust()

    async def create(
        self, account_sid: str, description: str, sink_type: str, configuration_json: str
    ) -> SinkRow:
        text = validation.description(description, 91000, "Sink")
        config = sink_configs.parse(sink_type, configuration_json)
        self._check_policy(account_sid, config)
        now = utcnow()
        row = SinkRow(
            sid=sids.new(sids.SINK),
            account_sid=account_sid,
            description=text,
            sink_type=sink_type,
            configuration=sink_configs.to_json(config),
            status=sink_configs.INITIAL_STATUS[sink_type],
            test_id=None,
            date_created=now,
            date_updated=now,
        )
        if isinstance(config, sink_configs.WebhookConfig) and config.standard_webhooks:
            row.signing_secret = self._cipher.seal(new_signing_secret())
            row.signing_secret_created = now
        async with self._sessions.begin() as session:
            root = await trees.lock(session, account_sid)
            count = await session.scalar(
                select(func.count()).select_from(SinkRow).where(SinkRow.account_sid == account_sid)
            )
            if (count or 0) >= self._max:
                raise LimitExceeded(
                    f"Account reached the maximum number of sinks ({self._max})", twilio_code=91003
                )
            before = await trees.usage(session, root)
            refusal = limits.tree_refusal(self._tree, before, replace(before, sinks=before.sinks + 1))
            if refusal is not None:
                raise refusal
            session.add(row)
            await revision.bump(session, account_sid)
        return row

    def _check_policy(self, account_sid: str, config: sink_configs.SinkConfig) -> None:
        """Tell the user now, not with every event's dead letter, that this deployment does
        not deliver where the destination points (delivery checks again, on every address
        a name resolves to), nor assume a role that does not trust the account's ExternalId."""
        if isinstance(config, sink_configs.AwsTarget):
            refused = self.kinesis.refusal(account_sid, config)
            if refused is not None:
                raise InvalidArgument(f"Sink could not be created: {refused}", twilio_code=91000)
            return
        if not isinstance(config, sink_configs.WebhookConfig):
            return
        # Judged as delivery judges it: the host the client connects to, not as typed.
        reason = addresses.refusal(addresses.wire_host(config.destination), self._allow_private)
        if reason is not None:
            raise InvalidArgument(
                f"Sink could not be created: {reason} (this deployment delivers to public addresses only)",
                twilio_code=91000,
            )

    async def get(self, account_sid: str, sid: str) -> SinkRow:
        validation.sid_or_not_found(sid, sids.SINK, "/Sinks")
        async with self._sessions() as session:
            row = await session.scalar(
                select(SinkRow).where(SinkRow.sid == sid, SinkRow.account_sid == account_sid)
            )
        if row is None:
            raise not_found(sid)
        return row

    async def in_use(self, sink_sids: list[str]) -> set[str]:
        if not sink_sids:
            return set()
        async with self._sessions() as session:
            used = await session.scalars(
                select(SubscriptionRow.sink_sid).where(SubscriptionRow.sink_sid.in_(sink_sids)).distinct()
            )
            return set(used.all())

    async def find(
        self, account_sid: str, in_use: bool | None, status: str, page_size: int, token: str
    ) -> Page[SinkRow]:
        statement = select(SinkRow).where(SinkRow.account_sid == account_sid)
        if status == PAUSED:
            statement = statement.where(SinkRow.paused)
        elif status:
            if status not in STATUSES:
                raise InvalidArgument(f"Status must be one of {', '.join((*STATUSES, PAUSED))}")
            # A paused sink shows as paused, whatever its lifecycle status.
            statement = statement.where(SinkRow.status == status, ~SinkRow.paused)
        if in_use is not None:
            used = exists().where(SubscriptionRow.sink_sid == SinkRow.sid)
            statement = statement.where(used if in_use else ~used)
        async with self._sessions() as session:
            return await fetch_page(session, statement, SinkRow.id, lambda r: r.id, page_size, token)

    async def update(
        self, account_sid: str, sid: str, description: str | None, paused: bool | None = None
    ) -> SinkRow:
        """`description`, `paused`: None leaves it as it is. Pausing or resuming changes the
        sink's routing (the workers park a paused sink's events), so its revision moves;
        pausing a paused sink, or resuming an active one, changes nothing."""
        text = None if description is None else validation.description(description, 91000, "Sink")
        async with self._sessions.begin() as session:
            row = await self._locked(session, account_sid, sid)
            if text is not None:
                row.description = text
            if paused is not None and paused != row.paused:
                row.paused = paused
                await revision.bump(session, account_sid)
            row.date_updated = utcnow()
        return row

    async def delete(self, account_sid: str, sid: str) -> None:
        async with self._sessions.begin() as session:
            row = await self._locked(session, account_sid, sid)
            subscription = await session.scalar(
                select(SubscriptionRow.sid).where(SubscriptionRow.sink_sid == sid).limit(1)
            )
            if subscription:
                raise FailedPrecondition(
                    f"Sink with SID {sid} is in use by subscription {subscription}",
                    twilio_code=91002,
                )
            await session.delete(row)
            await revision.bump(session, account_sid)

    async def test(self, account_sid: str, sid: str) -> str:
        """Send a fresh test event and make its id the one Validate accepts."""
        test_id = str(uuid.uuid4())
        async with self._sessions.begin() as session:
            row = await self._locked(session, account_sid, sid)
            # The event is published inside the transaction: if publishing fails, nothing
            # about the sink changes.
            await self._tests.publish_test(account_sid, sid, test_id)
            row.test_id = test_id
            row.status = "validating"
            row.date_updated = utcnow()
            await revision.bump(session, account_sid)
        return test_id

    async def validate(self, account_sid: str, sid: str, test_id: str) -> None:
        if not test_id.strip():
            raise InvalidArgument("Missing required parameter TestId in the post body", twilio_code=20001)
        async with self._sessions.begin() as session:
            row = await self._locked(session, account_sid, sid)
            if row.test_id is None or row.test_id != test_id.strip():
                raise InvalidArgument(
                    "Sink could not be validated: the TestId does not match the latest test",
                    twilio_code=91102,
                )
            row.status = "active"
            row.date_updated = utcnow()
            await revision.bump(session, account_sid)

    async def signing_secret(self, account_sid: str, sid: str) -> SigningSecret:
        """The sink's Standard Webhooks secret, revealed."""
        return self._revealed(await self.get(account_sid, sid), utcnow())

    async def rotate_signing_secret(self, account_sid: str, sid: str) -> SigningSecret:
        """A new secret for the sink. The one it replaces signs beside it for a day (Svix's
        grace): deliveries carry both signatures, so a receiver verifying with the old secret
        keeps working until it has the new one. Rotating again drops the older one at once."""
        async with self._sessions.begin() as session:
            row = await self._locked(session, account_sid, sid)
            now = utcnow()
            self._revealed(row, now)  # one that has none is refused, not given one
            row.previous_signing_secret = row.signing_secret
            row.previous_signing_secret_expires = now + ROTATION_GRACE
            row.signing_secret = self._cipher.seal(new_signing_secret())
            row.signing_secret_created = now
            row.date_updated = now
            await revision.bump(session, account_sid)
        return self._revealed(row, now)

    def _revealed(self, row: SinkRow, now: datetime) -> SigningSecret:
        if not row.signing_secret:
            raise FailedPrecondition(
                f"Sink {row.sid} is not signed with a secret of its own: only a webhook sink whose "
                "sink_configuration has signing standard-webhooks is",
                twilio_code=91000,
            )
        return SigningSecret(
            self._cipher.reveal(row.signing_secret),
            row.signing_secret_created or row.date_created,
            *self.previous(row, now),
        )

    def previous(self, row: SinkRow, now: datetime) -> tuple[str, datetime | None]:
        """The secret a rotation replaced, revealed, and until when it signs — while it does."""
        expires = previous_expires(row)
        if not row.previous_signing_secret or expires is None or expires <= now:
            return "", None
        return self._cipher.reveal(row.previous_signing_secret), expires

    async def seal_stored_secrets(self, batch: int = 1000) -> int:
        """Seal signing secrets stored in the clear (or, while keys rotate, under an older key),
        as the accounts' auth tokens are at start."""
        if not self._cipher.enabled:
            return 0
        sealed = 0
        after = 0
        while True:
            async with self._sessions.begin() as session:
                statement = select(SinkRow).where(SinkRow.id > after, SinkRow.signing_secret.is_not(None))
                if not self._cipher.rotating:
                    statement = statement.where(
                        or_(
                            ~SinkRow.signing_secret.startswith(PREFIX, autoescape=True),
                            ~SinkRow.previous_signing_secret.startswith(PREFIX, autoescape=True),
                        )
                    )
                rows = list((await session.scalars(statement.order_by(SinkRow.id).limit(batch))).all())
                for row in rows:
                    if row.signing_secret and self._cipher.needs_sealing(row.signing_secret):
                        row.signing_secret = self._cipher.seal(self._cipher.reveal(row.signing_secret))
                        sealed += 1
                    previous = row.previous_signing_secret
                    if previous and self._cipher.needs_sealing(previous):
                        row.previous_signing_secret = self._cipher.seal(self._cipher.reveal(previous))
                        sealed += 1
            if len(rows) < batch:
                return sealed
            after = rows[-1].id

    async def _locked(self, session: Any, account_sid: str, sid: str) -> SinkRow:
        validation.sid_or_not_found(sid, sids.SINK, "/Sinks")
        row = await session.scalar(
            select(SinkRow).where(SinkRow.sid == sid, SinkRow.account_sid == account_sid).with_for_update()
        )
        if row is None:
            raise not_found(sid)
        return row  # type: ignore[no-any-return]

    async def all_sinks(self) -> list[SinkRow]:
        async with self._sessions() as session:
            return list((await session.scalars(select(SinkRow))).all())
