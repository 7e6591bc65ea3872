"""Accounts, subaccounts and API keys, and authentication by either credential.

An auth token is rotated as Twilio's is: a secondary token is made (both authenticate while
it exists), then promoted (it becomes the auth token, the old one authenticates no more) or
deleted. The auth token also signs webhook deliveries, so the routing revision moves with
it. A subaccount's status is changed by its parent only: `suspended` refuses its
credentials and routes none of its events, `active` undoes that, and `closed` is final —
its sinks, subscriptions and API keys are deleted.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import sids
from runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from runtime.paging import Page, fetch_page
from runtime.text import control_character
from runtime.times import utcnow
from runtime.token_cipher import PREFIX, TokenCipher
from services.control import revision, trees, validation
from services.control.models import (
    AccountRow,
    ApiKeyRow,
    SinkRow,
    SubscribedEventRow,
    SubscriptionRow,
)

MAX_FRIENDLY_NAME = 64
ACTIVE, SUSPENDED, CLOSED = "active", "suspended", "closed"
STATUSES = (ACTIVE, SUSPENDED, CLOSED)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _friendly_name(value: str, default: str) -> str:
    name = validation.plain(value, "FriendlyName").strip() or default
    if len(name) > MAX_FRIENDLY_NAME:
        raise InvalidArgument(f"FriendlyName must be at most {MAX_FRIENDLY_NAME} characters")
    return name


def status_change(caller_sid: str, target: AccountRow, wanted: str) -> None:
    """Whether `caller_sid` may set `target`'s status to `wanted`: only its parent may, and
    never out of `closed`. Raises the refusal; returns for an allowed (or unchanged) one."""
    if wanted not in STATUSES:
        raise InvalidArgument(f"Status must be one of {', '.join(STATUSES)}, not {wanted!r}")
    if target.owner_account_sid != caller_sid:
        raise PermissionDenied("Only the parent account can change a subaccount's status")
    if target.status == CLOSED and wanted != CLOSED:
        raise FailedPrecondition(f"Account {target.sid} is closed; a closed account cannot be reopened")


def _not_found(sid: str) -> NotFound:
    return NotFound(f"The requested resource Account {sid} was not found")


class AccountStore:
    """Accounts as callers see them: auth tokens sealed in the database (runtime/token_cipher),
    revealed on the rows this store hands out (which are never written back)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_subaccounts: int = 1000,
        cipher: TokenCipher | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_subaccounts = max_subaccounts
        self._cipher = cipher or TokenCipher("")

    def _revealed(self, row: AccountRow) -> AccountRow:
        row.auth_token = self._cipher.reveal(row.auth_token)  # a detached row: nothing is written
        if row.secondary_auth_token:
            row.secondary_auth_token = self._cipher.reveal(row.secondary_auth_token)
        return row

    async def seal_stored_tokens(self, batch: int = 1000) -> int:
        """Seal tokens stored in the clear (or, while keys rotate, under an older key); at
        start. Only those rows are read — all of them only during a rotation — in batches,
        each its own transaction: a start never holds every account at once."""
        if not self._cipher.enabled:
            return 0
        sealed = 0
        after = ""
        clear = or_(
            ~AccountRow.auth_token.startswith(PREFIX, autoescape=True),
            and_(
                AccountRow.secondary_auth_token.is_not(None),
                AccountRow.secondary_auth_token != "",
                ~AccountRow.secondary_auth_token.startswith(PREFIX, autoescape=True),
            ),
        )
        while True:
            async with self._sessions.begin() as session:
                query = select(AccountRow).where(AccountRow.sid > after).order_by(AccountRow.sid).limit(batch)
                if not self._cipher.rotating:
                    query = query.where(clear)
                rows = (await session.scalars(query)).all()
                for row in rows:
                    if self._cipher.needs_sealing(row.auth_token):
                        row.auth_token = self._cipher.seal(self._cipher.reveal(row.auth_token))
                        sealed += 1
                    secondary = row.secondary_auth_token
                    if secondary and self._cipher.needs_sealing(secondary):
                        row.secondary_auth_token = self._cipher.seal(self._cipher.reveal(secondary))
                        sealed += 1
            if len(rows) < batch:
                return sealed
            after = rows[-1].sid

    async def authenticate(self, username: str, password: str) -> tuple[AccountRow, str]:
        """The account a credential belongs to, and the API key SID when it was a key."""
        failure = Unauthenticated("Authenticate", twilio_code=20003)
        if control_character(username) is not None:  # no SID has one; PostgreSQL cannot even look
            raise failure
        async with self._sessions() as session:
            if username.startswith(sids.API_KEY):
                key = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.sid == username))
                if key is None or not hmac.compare_digest(key.secret_sha256, _digest(password)):
                    raise failure
                account_sid = key.account_sid
            else:
                account_sid = username
            account = await session.scalar(select(AccountRow).where(AccountRow.sid == account_sid))
        if account is None or account.status != ACTIVE:
            raise failure  # Twilio's 20003 too for a suspended or closed account's credentials
        account = self._revealed(account)
        if username.startswith(sids.API_KEY):
            return account, username
        # Both compared, whichever matches, so the time taken tells nothing of which did.
        primary = hmac.compare_digest(account.auth_token.encode(), password.encode())
        secondary = hmac.compare_digest((account.secondary_auth_token or "").encode(), password.encode())
        if not (primary or (secondary and account.secondary_auth_token)):
            raise failure
        return account, ""

    async def create(
        self, friendly_name: str, owner_sid: str = "", sid: str = "", auth_token: str = ""
    ) -> AccountRow:
        if sid and not sids.is_sid(sid, sids.ACCOUNT):
            raise InvalidArgument(f"Invalid account SID {sid}")
        if auth_token and len(auth_token) < 16:
            raise InvalidArgument("Auth token must be at least 16 characters")
        now = utcnow()
        new_sid = sid or sids.new(sids.ACCOUNT)
        token = auth_token or sids.new_secret()
        row = AccountRow(
            sid=new_sid,
            friendly_name=_friendly_name(
                friendly_name, f"SubAccount Created at {now:%Y-%m-%d %H:%M %p}" if owner_sid else new_sid
            ),
            auth_token=self._cipher.seal(token),
            owner_account_sid=owner_sid or None,
            status="active",
            date_created=now,
            date_updated=now,
        )
        async with self._sessions.begin() as session:
            if await session.scalar(select(AccountRow.id).where(AccountRow.sid == new_sid)):
                raise InvalidArgument(f"Account {new_sid} already exists")
            if owner_sid:
                await trees.lock(session, owner_sid)  # two creates at the limit: one passes
                owned = AccountRow.owner_account_sid == owner_sid
                count = await session.scalar(select(func.count()).select_from(AccountRow).where(owned))
                if (count or 0) >= self._max_subaccounts:
                    most = self._max_subaccounts
                    raise LimitExceeded(f"Account reached the maximum number of subaccounts ({most})")
            session.add(row)
            await revision.bump(session, new_sid)
        row.auth_token = token  # the caller's copy, after the sealed one is stored
        return row

    async def get_visible(self, caller_sid: str, sid: str) -> AccountRow:
        """The caller's own account or one of its subaccounts."""
        async with self._sessions() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid))
        if row is None or (row.sid != caller_sid and row.owner_account_sid != caller_sid):
            raise _not_found(sid)
        return self._revealed(row)

    async def update(
        self, caller_sid: str, sid: str, friendly_name: str | None, status: str | None
    ) -> AccountRow:
        """Rename the caller's own account or a subaccount; change a subaccount's status
        (`status_change`). Closing deletes the account's sinks, subscriptions and keys."""
        async with self._sessions.begin() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid).with_for_update())
            if row is None or (row.sid != caller_sid and row.owner_account_sid != caller_sid):
                raise _not_found(sid)
            if friendly_name is not None:
                row.friendly_name = _friendly_name(friendly_name, row.friendly_name)
            if status is not None:
                status_change(caller_sid, row, status)
                if status != row.status:
                    row.status = status
                    if status == CLOSED:
                        await self._delete_resources(session, sid)
                        row.secondary_auth_token = None
                        row.secondary_auth_token_created = None
                    await revision.bump(session, sid)
            row.date_updated = utcnow()
        return self._revealed(row)

    async def expire_portal_links(self, caller_sid: str, sid: str) -> AccountRow:
        """Every portal link and session of the caller's own account or a subaccount issued
        until now refused from now on."""
        async with self._sessions.begin() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid).with_for_update())
            if row is None or (row.sid != caller_sid and row.owner_account_sid != caller_sid):
                raise _not_found(sid)
            now = utcnow()
            row.portal_links_not_before = now
            row.date_updated = now
        return self._revealed(row)

    @staticmethod
    async def _delete_resources(session: AsyncSession, account_sid: str) -> None:
        """What Twilio deletes with a closed account: here its sinks, subscriptions and keys."""
        subscriptions = select(SubscriptionRow.sid).where(SubscriptionRow.account_sid == account_sid)
        await session.execute(
            delete(SubscribedEventRow).where(SubscribedEventRow.subscription_sid.in_(subscriptions))
        )
        await session.execute(delete(SubscriptionRow).where(SubscriptionRow.account_sid == account_sid))
        await session.execute(delete(SinkRow).where(SinkRow.account_sid == account_sid))
        await session.execute(delete(ApiKeyRow).where(ApiKeyRow.account_sid == account_sid))

    async def create_secondary(self, sid: str) -> AccountRow:
        """A secondary auth token for the account (one at a time), revealed on the row."""
        token = sids.new_secret()
        async with self._sessions.begin() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid).with_for_update())
            if row is None:
                raise _not_found(sid)
            if row.secondary_auth_token:
                raise AlreadyExists("A secondary auth token exists; promote or delete it first")
            now = utcnow()
            row.secondary_auth_token = self._cipher.seal(token)
            row.secondary_auth_token_created = now
            row.date_updated = now
        return self._revealed(row)

    async def delete_secondary(self, sid: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid).with_for_update())
            if row is None or not row.secondary_auth_token:
                raise NotFound("The requested resource Secondary Auth Token was not found")
            row.secondary_auth_token = None
            row.secondary_auth_token_created = None
            row.date_updated = utcnow()

    async def promote(self, sid: str) -> AccountRow:
        """The secondary auth token becomes the auth token; the old one is gone. The auth
        token signs deliveries, so the routing revision moves: workers sign with the new one."""
        async with self._sessions.begin() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid).with_for_update())
            if row is None:
                raise _not_found(sid)
            if not row.secondary_auth_token:
                raise FailedPrecondition("There is no secondary auth token to promote")
            row.auth_token = row.secondary_auth_token
            row.secondary_auth_token = None
            row.secondary_auth_token_created = None
            row.date_updated = utcnow()
            await revision.bump(session, sid)
        return self._revealed(row)

    async def get(self, sid: str) -> AccountRow | None:
        async with self._sessions() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid))
        return self._revealed(row) if row is not None else None

    async def list_visible(
        self, caller_sid: str, friendly_name: str, page_size: int, token: str
    ) -> Page[AccountRow]:
        statement = select(AccountRow).where(
            (AccountRow.sid == caller_sid) | (AccountRow.owner_account_sid == caller_sid)
        )
        if friendly_name:
            validation.plain(friendly_name, "FriendlyName")
            statement = statement.where(AccountRow.friendly_name == friendly_name)
        async with self._sessions() as session:
            page = await fetch_page(session, statement, AccountRow.id, lambda r: r.id, page_size, token)
        for row in page.items:
            self._revealed(row)
        return page

    async def create_key(self, account_sid: str, friendly_name: str) -> tuple[ApiKeyRow, str]:
        now = utcnow()
        secret = sids.new_secret()
        key_sid = sids.new(sids.API_KEY)
        row = ApiKeyRow(
            sid=key_sid,
            account_sid=account_sid,
            friendly_name=_friendly_name(friendly_name, key_sid),
            secret_sha256=_digest(secret),
            date_created=now,
            date_updated=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return row, secret

    async def list_keys(self, account_sid: str, page_size: int, token: str) -> Page[ApiKeyRow]:
        statement = select(ApiKeyRow).where(ApiKeyRow.account_sid == account_sid)
        async with self._sessions() as session:
            return await fetch_page(session, statement, ApiKeyRow.id, lambda r: r.id, page_size, token)

    async def get_key(self, account_sid: str, sid: str) -> ApiKeyRow:
        async with self._sessions() as session:
            row = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.sid == sid, ApiKeyRow.account_sid == account_sid)
            )
        if row is None:
            raise NotFound(f"The requested resource Key {sid} was not found")
        return row

    async def delete_key(self, account_sid: str, sid: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.sid == sid, ApiKeyRow.account_sid == account_sid)
            )
            if row is None:
                raise NotFound(f"The requested resource Key {sid} was not found")
            await session.delete(row)

    async def all_accounts(self) -> list[AccountRow]:
        async with self._sessions() as session:
            rows = list((await session.scalars(select(AccountRow))).all())
        return [self._revealed(row) for row in rows]
