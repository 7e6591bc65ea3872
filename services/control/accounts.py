"""Accounts, subaccounts and API keys, and authentication by either credential."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import sids
from runtime.errors import InvalidArgument, LimitExceeded, NotFound, Unauthenticated
from runtime.paging import Page, fetch_page
from runtime.text import control_character
from runtime.times import utcnow
from runtime.token_cipher import TokenCipher
from services.control import revision, validation
from services.control.models import AccountRow, ApiKeyRow

MAX_FRIENDLY_NAME = 64


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _friendly_name(value: str, default: str) -> str:
    name = validation.plain(value, "FriendlyName").strip() or default
    if len(name) > MAX_FRIENDLY_NAME:
        raise InvalidArgument(f"FriendlyName must be at most {MAX_FRIENDLY_NAME} characters")
    return name


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
        return row

    async def seal_stored_tokens(self) -> int:
        """Seal tokens stored in the clear (or under a rotated-out key); at start."""
        sealed = 0
        async with self._sessions.begin() as session:
            for row in (await session.scalars(select(AccountRow))).all():
                if self._cipher.needs_sealing(row.auth_token):
                    row.auth_token = self._cipher.seal(self._cipher.reveal(row.auth_token))
                    sealed += 1
        return sealed

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
        if account is None or account.status != "active":
            raise failure
        account = self._revealed(account)
        if not username.startswith(sids.API_KEY) and not hmac.compare_digest(
            account.auth_token.encode(), password.encode()
        ):
            raise failure
        return account, username if username.startswith(sids.API_KEY) else ""

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
                owned = AccountRow.owner_account_sid == owner_sid
                count = await session.scalar(select(func.count()).select_from(AccountRow).where(owned))
                if (count or 0) >= self._max_subaccounts:
                    most = self._max_subaccounts
                    raise LimitExceeded(f"Account reached the maximum number of subaccounts ({most})")
            session.add(row)
            await revision.bump(session)
        row.auth_token = token  # the caller's copy, after the sealed one is stored
        return row

    async def get_visible(self, caller_sid: str, sid: str) -> AccountRow:
        """The caller's own account or one of its subaccounts."""
        async with self._sessions() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.sid == sid))
        if row is None or (row.sid != caller_sid and row.owner_account_sid != caller_sid):
            raise NotFound(f"The requested resource Account {sid} was not found")
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
