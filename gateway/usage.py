"""Usage of Event Streams, in Twilio's Usage Records shape (2010-04-01): delivered events per
category — `event-streams` (every sink type) and one per sink type (`event-streams-webhook`,
`-kinesis`, …: each type's usage category in `runtime.sinks.registry`) — summed over a date
range, or per day.

    GET /2010-04-01/Accounts/{AccountSid}/Usage/Records.json        ?Category= &StartDate= &EndDate=
    GET /2010-04-01/Accounts/{AccountSid}/Usage/Records/Daily.json  (the same, one record per day)

Dates are YYYY-MM-DD (UTC), inclusive; by default the last 30 days, at most 3660 days. An
account reads its own usage and its subaccounts'. Prices are not ours to set: `price` is "0".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.routing import Route

from eventstreams.v1 import control_pb2, delivery_pb2
from gateway import forms
from gateway.accounts import API
from gateway.context import Backends, Call, authenticated, ok
from gateway.paging import PageRequest
from gateway.routing import resources
from runtime.errors import InvalidArgument
from runtime.sinks import registry

ALL = "event-streams"
CATEGORIES = (ALL, *(t.usage_category for t in registry.TYPES))
DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years


def _day(params: forms.Params, name: str, default: date) -> date:
    text = forms.optional(params, name)
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date, YYYY-MM-DD") from None


def record(
    account_sid: str, category: str, start: date, end: date, count: int, path: str, query: str
) -> dict[str, Any]:
    kind = category.removeprefix(f"{ALL}-") if category != ALL else "every sink type"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "as_of": datetime.now(UTC).isoformat(timespec="seconds"),
        "category": category,
        "count": str(count),
        "count_unit": "events",
        "description": f"Event Streams: events delivered ({kind})",
        "end_date": end.isoformat(),
        "price": "0",
        "price_unit": "usd",
        "start_date": start.isoformat(),
        "subresource_uris": {},
        "uri": f"{path}?{query}",
        "usage": str(count),
        "usage_unit": "events",
    }


async def _usage(call: Call, daily: bool) -> Any:
    account = str(call.request.path_params["account"])
    # The caller's own account or a subaccount of it (NOT_FOUND otherwise).
    await call.backends.control.GetAccount(
        control_pb2.GetAccountRequest(account_sid=call.account.sid, sid=account)
    )
    params = call.request.query_params
    page = PageRequest.read(params, "Category", "StartDate", "EndDate")
    category = forms.optional(params, "Category")
    if category and category not in CATEGORIES:
        raise InvalidArgument(f"Category must be one of {', '.join(CATEGORIES)}")
    today = datetime.now(UTC).date()
    end = _day(params, "EndDate", today)
    start = _day(params, "StartDate", end - timedelta(days=DEFAULT_DAYS - 1))
    if end < start:
        raise InvalidArgument("EndDate is before StartDate")
    if (end - start).days + 1 > MAX_DAYS:
        # The records of a range are made per request: a range is bounded so that what one
        # request may make, and what it asks delivery for, is bounded.
        raise InvalidArgument(
            f"StartDate to EndDate spans {(end - start).days + 1} days; at most {MAX_DAYS} may be asked for"
        )
    found = await call.backends.delivery.GetUsage(
        delivery_pb2.UsageRequest(account_sid=account, start_date=start.isoformat(), end_date=end.isoformat())
    )
    # (day or the whole range, category) -> delivered
    counts: dict[tuple[date | None, str], int] = defaultdict(int)
    for row in found.days:
        when = date.fromisoformat(row.day) if daily else None
        counts[(when, ALL)] += row.delivered
        kind = registry.find(row.sink_type)
        counts[(when, kind.usage_category if kind else f"{ALL}-{row.sink_type}")] += row.delivered
    wanted = [category] if category else list(CATEGORIES)
    path = f"{API}/Accounts/{account}/Usage/Records{'/Daily' if daily else ''}.json"
    days = (end - start).days + 1 if daily else 1

    def nth(index: int) -> dict[str, Any]:
        """Record `index` of the list: days in order, each day's categories in order."""
        c = wanted[index % len(wanted)]
        d = start + timedelta(days=index // len(wanted)) if daily else None
        first, last = d or start, d or end
        query = f"Category={c}&StartDate={first.isoformat()}&EndDate={last.isoformat()}"
        return record(account, c, first, last, counts.get((d, c), 0), path, query)

    return ok(
        legacy_list(
            nth,
            days * len(wanted),
            path,
            {"Category": category, "StartDate": start.isoformat(), "EndDate": end.isoformat()},
            page,
        )
    )


def legacy_list(
    nth: Callable[[int], dict[str, Any]], total: int, path: str, filters: dict[str, str], page: PageRequest
) -> dict[str, Any]:
    """The 2010-04-01 list shape over `total` records, of which only the page's are made."""
    kept = {k: v for k, v in filters.items() if v}
    first = page.page * page.size
    shown = [nth(i) for i in range(first, min(first + page.size, total))]
    more = first + page.size < total
    return {
        "usage_records": shown,
        "end": first + max(0, len(shown) - 1),
        "first_page_uri": page.link(path, kept, 0, ""),
        "next_page_uri": page.link(path, kept, page.page + 1, "") if more else None,
        "page": page.page,
        "page_size": page.size,
        "previous_page_uri": page.link(path, kept, page.page - 1, "") if page.page > 0 else None,
        "start": first,
        "uri": page.link(path, kept, page.page, ""),
    }


async def records_total(call: Call) -> Any:
    return await _usage(call, daily=False)


async def records_daily(call: Call) -> Any:
    return await _usage(call, daily=True)


def routes(backends: Backends) -> list[Route]:
    base = f"{API}/Accounts/{{account}}/Usage/Records"
    return resources(
        (f"{base}.json", "GET", authenticated(backends, records_total)),
        (f"{base}/Daily.json", "GET", authenticated(backends, records_daily)),
    )
