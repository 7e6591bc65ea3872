"""When assumed-role credentials must be renewed: pure."""

from __future__ import annotations

from datetime import datetime, timedelta

# Renew this long before AWS says the credentials expire, so no call carries stale ones.
RENEW_BEFORE = timedelta(minutes=5)
# AssumeRole's own bounds are 15 min to the role's maximum; an hour is AWS's default.
SESSION_SECONDS = 3600


def due(expires: datetime | None, now: datetime, margin: timedelta = RENEW_BEFORE) -> bool:
    return expires is None or now >= expires - margin
