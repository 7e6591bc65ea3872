"""The `evs` commands (click: subcommands, help, and shell completion for free —
`eval "$(_EVS_COMPLETE=bash_source evs)"`, or zsh_source / fish_source)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from evs import doctor as doctor_checks
from evs.api import Api
from evs.errors import CliError, NoCredentials
from evs.output import emit
from evs.profiles import DEFAULT_URL, Profile, Profiles, default_profiles
from evs.progress import Progress
from runtime.sinks import registry

F = TypeVar("F", bound=Callable[..., Any])
SINK_COLUMNS = ("sid", "sink_type", "status", "description")
FINISHED = ("completed", "failed", "cancelled")


@dataclass
class State:
    profiles: Profiles
    profile_name: str | None
    as_json: bool
    api_factory: Callable[[Profile], Api]

    def api(self) -> Api:
        return self.api_factory(self.profiles.resolve(self.profile_name, os.environ))


def state() -> State:
    found = click.get_current_context().find_object(State)
    assert found is not None
    return found


class Group(click.Group):
    """Errors said in one line (and what to do), with their own exit codes — no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"  {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=Group)
@click.option(
    "--profile", "-p", help="the profile to use (default: the environment's credentials, or the active one)"
)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON (for scripts)")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, as_json: bool) -> None:
    """Event Streams from the command line."""
    ctx.ensure_object(dict)
    factory = ctx.obj.get("api_factory", Api) if isinstance(ctx.obj, dict) else Api
    ctx.obj = State(default_profiles(), profile, as_json, factory)


# --- profiles -------------------------------------------------------------------------------


@cli.group()
def profiles() -> None:
    """Named credentials (kept in ~/.config/evs/config.json, or EVS_CONFIG)."""


@profiles.command("add")
@click.argument("name")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="the gateway")
@click.option("--account-sid", required=True)
@click.option("--auth-token", help="the account's auth token")
@click.option("--api-key", help="an API key's SID (SK…), instead of the auth token")
@click.option("--api-secret", help="that API key's secret")
@click.option("--check/--no-check", default=True, show_default=True, help="try the credentials first")
def profiles_add(
    name: str,
    url: str,
    account_sid: str,
    auth_token: str | None,
    api_key: str | None,
    api_secret: str | None,
    check: bool,
) -> None:
    """Add (or replace) a profile and make it the active one."""
    if api_key and api_secret:
        profile = Profile(url, account_sid, api_key, api_secret)
    elif auth_token:
        profile = Profile(url, account_sid, account_sid, auth_token)
    else:
        raise click.UsageError("give --auth-token, or --api-key with --api-secret")
    if check:
        with state().api_factory(profile) as api:
            api.get("/v1/Sinks", {"PageSize": "1"})
    state().profiles.add(name, profile, activate=True)
    click.echo(f"profile {name} saved and active")


@profiles.command("list")
def profiles_list() -> None:
    active, known = state().profiles.names()
    rows = [{"name": n, "active": n == active, **p.public()} for n, p in known.items()]
    emit(state().as_json, rows, ("name", "active", "url", "account_sid", "username"))


@profiles.command("use")
@click.argument("name")
def profiles_use(name: str) -> None:
    state().profiles.use(name)
    click.echo(f"profile {name} is active")


@profiles.command("remove")
@click.argument("name")
def profiles_remove(name: str) -> None:
    state().profiles.remove(name)
    click.echo(f"profile {name} removed")


# --- sinks ----------------------------------------------------------------------------------


@cli.group()
def sinks() -> None:
    """Where events go: a webhook, Amazon Kinesis, Segment, … (`evs sinks types`)."""


@sinks.command("list")
def sinks_list() -> None:
    with state().api() as api:
        emit(state().as_json, list(api.each("/v1/Sinks", "sinks")), SINK_COLUMNS)


@sinks.command("get")
@click.argument("sid")
def sinks_get(sid: str) -> None:
    with state().api() as api:
        emit(state().as_json, api.get(f"/v1/Sinks/{sid}"))


@sinks.command("create")
@click.option(
    "--type",
    "sink_type",
    type=click.Choice(registry.NAMES),
    default="webhook",
    show_default=True,
)
@click.option("--description", required=True)
@click.option("--destination", help="webhook: the URL events are POSTed to")
@click.option("--batch/--no-batch", default=False, help="webhook: many events per request")
@click.option(
    "--signing",
    type=click.Choice(["twilio", "standard-webhooks"]),
    default="twilio",
    show_default=True,
    help="webhook: X-Twilio-Signature, or Standard Webhooks with the sink's own secret (evs sinks secret)",
)
@click.option("--header", "headers", multiple=True, metavar="NAME=VALUE", help="webhook: sent on every call")
@click.option("--config", "config", help="the SinkConfiguration JSON (instead of --destination)")
def sinks_create(
    sink_type: str,
    description: str,
    destination: str | None,
    batch: bool,
    signing: str,
    headers: tuple[str, ...],
    config: str | None,
) -> None:
    """Create a sink (a webhook is active at once; the others need test and validate). Each
    type's --config fields: `evs sinks types`."""
    if config is None:
        if sink_type != "webhook" or not destination:
            raise click.UsageError("give --destination (webhook) or the whole --config JSON")
        made: dict[str, object] = {"destination": destination, "method": "POST", "batch_events": batch}
        if signing != "twilio":
            made["signing"] = signing
        if headers:
            pairs = [h.partition("=") for h in headers]
            if any(not sep or not name for name, sep, _ in pairs):
                raise click.UsageError("--header takes NAME=VALUE")
            made["headers"] = {name: value for name, _, value in pairs}
        config = json.dumps(made)
    form = {"Description": description, "SinkType": sink_type, "SinkConfiguration": config}
    with state().api() as api:
        emit(state().as_json, api.post("/v1/Sinks", form))


@sinks.command("types")
def sinks_types() -> None:
    """The sink types the deployment offers, with the fields of each one's --config."""
    with state().api() as api:
        kinds = api.get("/v1/SinkTypes")["sink_types"]
    if state().as_json:
        emit(True, kinds)
        return
    for kind in kinds:
        schema = kind["configuration_schema"]
        click.echo(f"{kind['sink_type']}: {kind['title']} - {kind['summary']}")
        for name, field in schema["properties"].items():
            needed = "required" if name in schema["required"] else "optional"
            click.echo(f"    {name} ({needed}): {field['description']}")


@sinks.command("delete")
@click.argument("sid")
def sinks_delete(sid: str) -> None:
    with state().api() as api:
        api.delete(f"/v1/Sinks/{sid}")
    click.echo(f"sink {sid} deleted")


@sinks.command("test")
@click.argument("sid")
def sinks_test(sid: str) -> None:
    """Send the sink a test event (its test id is what `validate` wants)."""
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sid}/Test", {}))


@sinks.command("validate")
@click.argument("sid")
@click.option("--test-id", required=True, help="the test_id the test event carried")
def sinks_validate(sid: str, test_id: str) -> None:
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sid}/Validate", {"TestId": test_id}))


@sinks.command("pause")
@click.argument("sid")
def sinks_pause(sid: str) -> None:
    """Deliver nothing to the sink: its events are kept (parked) until `resume`, within the
    retry window (4 h); older ones become dead letters. Pausing a paused sink is harmless."""
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sid}", {"Status": "paused"}))


@sinks.command("resume")
@click.argument("sid")
def sinks_resume(sid: str) -> None:
    """Deliver to a paused sink again: what was kept flows (resuming an active sink is harmless)."""
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sid}", {"Status": "active"}))


@sinks.command("health")
@click.argument("sid")
def sinks_health(sid: str) -> None:
    """State (healthy, throttled, failing, rejecting, degraded, idle), the last error, the last hour."""
    with state().api() as api:
        emit(state().as_json, api.get(f"/v1/Sinks/{sid}/Health"))


@sinks.command("secret")
@click.argument("sid")
def sinks_secret(sid: str) -> None:
    """The Standard Webhooks secret (whsec_…) of a webhook sink signed with it."""
    with state().api() as api:
        emit(state().as_json, api.get(f"/v1/Sinks/{sid}/Secret"))


@sinks.command("rotate-secret")
@click.argument("sid")
def sinks_rotate_secret(sid: str) -> None:
    """A new Standard Webhooks secret for the sink: the old one signs nothing from now on."""
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sid}/Secret/Rotate", {}))


@sinks.command("kinesis-external-id")
def sinks_kinesis_external_id() -> None:
    """The ExternalId issued to your account: a Kinesis sink's external_id must be it, and
    your role's trust policy should require it (sts:ExternalId)."""
    with state().api() as api:
        emit(state().as_json, api.get("/v1/Sinks/Kinesis/ExternalId"))


# --- subscriptions and types ----------------------------------------------------------------


@cli.group()
def subscriptions() -> None:
    """Which event types go to which sink."""


@subscriptions.command("list")
@click.option("--sink", "sink_sid", help="only this sink's")
def subscriptions_list(sink_sid: str | None) -> None:
    params = {"SinkSid": sink_sid} if sink_sid else {}
    with state().api() as api:
        rows = list(api.each("/v1/Subscriptions", "subscriptions", params))
    emit(state().as_json, rows, ("sid", "sink_sid", "description"))


@subscriptions.command("create")
@click.option("--sink", "sink_sid", required=True)
@click.option("--description", required=True)
@click.option("--type", "types", multiple=True, required=True, help="TYPE or TYPE:VERSION (repeatable)")
@click.option("--filter", "filter_", help="a filter on the event data")
def subscriptions_create(
    sink_sid: str, description: str, types: tuple[str, ...], filter_: str | None
) -> None:
    items = []
    for given in types:
        name, _, version = given.partition(":")
        item: dict[str, Any] = {"type": name}
        if version:
            if not version.isdigit():
                raise click.BadParameter(f"{given!r}: the version after ':' is a number", param_hint="--type")
            item["schema_version"] = int(version)
        items.append(json.dumps(item))
    form: dict[str, Any] = {"Description": description, "SinkSid": sink_sid, "Types": items}
    if filter_:
        form["Filter"] = filter_
    with state().api() as api:
        emit(state().as_json, api.post("/v1/Subscriptions", form))


@subscriptions.command("delete")
@click.argument("sid")
def subscriptions_delete(sid: str) -> None:
    with state().api() as api:
        api.delete(f"/v1/Subscriptions/{sid}")
    click.echo(f"subscription {sid} deleted")


@cli.group()
def types() -> None:
    """The event-type catalogue."""


@types.command("list")
@click.option("--schema-id", help="only the types of this schema")
def types_list(schema_id: str | None) -> None:
    params = {"SchemaId": schema_id} if schema_id else {}
    with state().api() as api:
        rows = list(api.each("/v1/Types", "types", params))
    emit(state().as_json, rows, ("type", "schema_id", "status"))


# --- the delivery log, dead letters, replays ------------------------------------------------


@cli.group()
def deliveries() -> None:
    """A sink's delivery log."""


@deliveries.command("list")
@click.argument("sink_sid")
@click.option("--outcome", type=click.Choice(["delivered", "retrying", "failed", "parked"]))
@click.option("--since", help="from this time on: YYYY-MM-DD (the whole day) or YYYY-MM-DDThh:mm:ssZ")
@click.option("--until", help="up to this time, inclusive (the same forms as --since)")
@click.option("--type", "event_type", help="only this event type")
@click.option("--limit", default=50, show_default=True, help="the newest this many (0: every one)")
def deliveries_list(
    sink_sid: str,
    outcome: str | None,
    since: str | None,
    until: str | None,
    event_type: str | None,
    limit: int,
) -> None:
    """A sink's delivery attempts, newest first (filtered by the API, however old)."""
    wanted = {"Outcome": outcome, "StartDate": since, "EndDate": until, "EventType": event_type}
    params = {name: value for name, value in wanted.items() if value}
    if limit:
        params["PageSize"] = str(min(limit + 1, 1000))  # one more than shown: is there more?
    rows: list[dict[str, Any]] = []
    more = False
    with state().api() as api:
        for row in api.each(f"/v1/Sinks/{sink_sid}/Deliveries", "deliveries", params):
            if limit and len(rows) >= limit:
                more = True
                break
            rows.append(row)
    emit(state().as_json, rows, ATTEMPT_COLUMNS)
    if more:
        click.echo(f"(the newest {limit} shown; there are more: --limit N, or --limit 0 for all)", err=True)


ATTEMPT_COLUMNS = (
    "id", "date_created", "event_id", "attempt", "outcome", "status_code", "latency_ms",
    "triggered_by", "error",
)  # fmt: skip
# How many attempt ids `tail` remembers: one recorded late (a worker's write that committed
# after a newer one's) is still printed when it turns up among the newest.
REMEMBERED = 10_000
PAGE = 100


@deliveries.command("tail")
@click.argument("sink_sid")
@click.option("--interval", default=1.0, show_default=True, help="seconds between polls")
@click.option("--count", default=0, help="stop after this many attempts (0: until Ctrl-C)")
def deliveries_tail(sink_sid: str, interval: float, count: int) -> None:
    """Print attempts as they are recorded, in that order (the API lists newest first: each
    poll reads back from the newest to the last one printed)."""
    path = f"/v1/Sinks/{sink_sid}/Deliveries"
    seen: dict[int, None] = {}  # insertion-ordered: the oldest forgotten first
    shown = 0
    with state().api() as api:
        first = True
        while True:
            fresh = []
            newest_seen = max(seen, default=0)
            for looked, row in enumerate(api.each(path, "deliveries", {"PageSize": str(PAGE)}), 1):
                if row["id"] not in seen:
                    fresh.append(row)
                if looked >= PAGE and (first or row["id"] <= newest_seen):
                    break  # the rest was printed (or there before the tail began)
            for row in reversed(fresh):
                seen[row["id"]] = None
                if first:
                    continue
                click.echo(json.dumps(row) if state().as_json else _attempt_line(row))
                shown += 1
                if count and shown >= count:
                    return
            while len(seen) > REMEMBERED:
                del seen[next(iter(seen))]
            if first:
                click.echo(f"following {sink_sid}'s delivery log (Ctrl-C stops)", err=True)
            first = False
            time.sleep(interval)


@deliveries.command("show")
@click.argument("sink_sid")
@click.argument("delivery_id")
def deliveries_show(sink_sid: str, delivery_id: str) -> None:
    """One attempt (its ID from `deliveries list`), with the request as sent (no credentials:
    the URL's userinfo and Authorization are hidden) and the response as answered."""
    with state().api() as api:
        row = api.get(f"/v1/Sinks/{sink_sid}/Deliveries/{delivery_id}")
    if state().as_json:
        emit(True, row)
        return
    click.echo(_attempt_line(row) + (f"  ({row['triggered_by']})" if row.get("triggered_by") else ""))
    request, response = row.get("request"), row.get("response")
    if request is None:
        click.echo("(no request recorded: this sink type does not capture one)")
        return
    click.echo(f"\n> {request['method']} {request['url']}")
    for name, value in request["headers"].items():
        click.echo(f"> {name}: {value}")
    body = request["body"]
    click.echo(f"> [body: {body['form']}, {body['bytes']} bytes, {body['events']} event(s)]")
    if row.get("result"):
        click.echo(f"\nresult: {row['result']}")
    if response is None:
        click.echo("\n(no response)")
        return
    click.echo(f"\n< {response['status']}  ({response['latency_ms']} ms)")
    for name, value in response["headers"].items():
        click.echo(f"< {name}: {value}")
    if response["body"]:
        click.echo(f"\n{response['body']}")


@deliveries.command("resend")
@click.argument("sink_sid")
@click.argument("delivery_id")
def deliveries_resend(sink_sid: str, delivery_id: str) -> None:
    """Send an attempt's event to this sink again (and to no other): a new attempt, recorded
    with triggered_by "resend". The event is read back from the replay archive, so it must
    be within its retention."""
    with state().api() as api:
        emit(state().as_json, api.post(f"/v1/Sinks/{sink_sid}/Deliveries/{delivery_id}/Resend", {}))


def _attempt_line(row: dict[str, Any]) -> str:
    status = row.get("status_code") or "-"
    error = f"  {row['error']}" if row.get("error") else ""
    return (
        f"{row['date_created']}  {row['event_id']}  #{row['attempt']}  {row['outcome']}  "
        f"{status}  {row['latency_ms']} ms{error}"
    )


@cli.group("dead-letters")
def dead_letters() -> None:
    """Events a sink will not get by retrying."""


@dead_letters.command("list")
@click.argument("sink_sid")
@click.option("--redriven/--not-redriven", default=None)
def dead_letters_list(sink_sid: str, redriven: bool | None) -> None:
    params = {"Redriven": str(redriven).lower()} if redriven is not None else {}
    with state().api() as api:
        rows = list(api.each(f"/v1/Sinks/{sink_sid}/DeadLetters", "dead_letters", params))
    emit(state().as_json, rows, ("sid", "event_id", "attempts", "error_code", "reason", "date_redriven"))


@dead_letters.command("redrive")
@click.argument("sink_sid")
@click.option("--sid", "sids", multiple=True, help="a dead letter (repeatable; none: every one not redriven)")
def dead_letters_redrive(sink_sid: str, sids: tuple[str, ...]) -> None:
    with state().api() as api:
        result = api.post(f"/v1/Sinks/{sink_sid}/DeadLetters/Redrive", {"Sid": list(sids)})
    emit(state().as_json, result)


@cli.group()
def replay() -> None:
    """Deliver a sink's stored events again."""


@replay.command("start")
@click.argument("sink_sid")
@click.option("--start", "start_time", required=True, help="ISO 8601, within the 7-day retention")
@click.option("--end", "end_time", help="ISO 8601 (default: now)")
@click.option("--watch/--no-watch", default=False, help="then follow it with a progress bar")
def replay_start(sink_sid: str, start_time: str, end_time: str | None, watch: bool) -> None:
    form = {"StartTime": start_time, **({"EndTime": end_time} if end_time else {})}
    with state().api() as api:
        created = api.post(f"/v1/Sinks/{sink_sid}/Replays", form)
        if not watch:
            emit(state().as_json, created)
            return
        _watch(api, sink_sid, created["sid"], 0.5)


@replay.command("list")
@click.argument("sink_sid")
def replay_list(sink_sid: str) -> None:
    with state().api() as api:
        rows = list(api.each(f"/v1/Sinks/{sink_sid}/Replays", "replays"))
    emit(state().as_json, rows, ("sid", "status", "events_replayed", "start_time", "end_time"))


@replay.command("watch")
@click.argument("sink_sid")
@click.argument("replay_sid")
@click.option("--interval", default=0.5, show_default=True)
def replay_watch(sink_sid: str, replay_sid: str, interval: float) -> None:
    """Follow a replay until it ends, with a progress bar."""
    with state().api() as api:
        _watch(api, sink_sid, replay_sid, interval)


def _watch(api: Api, sink_sid: str, replay_sid: str, interval: float) -> None:
    """Follow a replay to its end: replayed of (replayed + what is still ahead of it)."""
    path = f"/v1/Sinks/{sink_sid}/Replays/{replay_sid}"
    bar = Progress(f"replay {replay_sid}")
    try:
        while True:
            current = api.get(path)
            replayed = int(current.get("events_replayed", 0))
            ended = current["status"] in FINISHED
            ahead = 0 if ended else int(current.get("events_remaining") or 0)
            bar.show(replayed, replayed + ahead if not ended else replayed, current["status"])
            if ended:
                break
            time.sleep(interval)
    finally:
        bar.close()
    emit(state().as_json, current)
    if current["status"] != "completed":
        raise CliError(f"replay {replay_sid} {current['status']}: {current.get('error') or ''}".rstrip(": "))


# --- usage, publish, doctor -----------------------------------------------------------------


@cli.command()
@click.option("--start-date", help="YYYY-MM-DD (default: 30 days ago)")
@click.option("--end-date", help="YYYY-MM-DD (default: today)")
@click.option("--daily", is_flag=True, help="one row per day")
def usage(start_date: str | None, end_date: str | None, daily: bool) -> None:
    """Delivered events per category (what Event Streams is billed by)."""
    params = {k: v for k, v in {"StartDate": start_date, "EndDate": end_date}.items() if v}
    with state().api() as api:
        account = api.profile.account_sid
        path = f"/2010-04-01/Accounts/{account}/Usage/Records{'/Daily' if daily else ''}.json"
        rows = list(api.each(path, "usage_records", {**params, "PageSize": "1000"}))
    emit(state().as_json, rows, ("start_date", "end_date", "category", "count"))


@cli.command("portal-link")
@click.argument("account_sid", required=False)
@click.option("--ttl", type=int, help="seconds the link works (default 3600; the gateway caps it)")
def portal_link(account_sid: str | None, ttl: int | None) -> None:
    """A signed link opening the console scoped to one of your subaccounts (default: your own
    account) — its sinks, subscriptions, delivery logs and error log, nothing else — until it
    expires. Hand it to that tenant; it carries no auth token. Needs the auth token, not a key."""
    form = {k: v for k, v in {"AccountSid": account_sid, "Ttl": str(ttl) if ttl else None}.items() if v}
    with state().api() as api:
        link = api.post("/v1/PortalLinks", form)
    if state().as_json:
        emit(True, link)
    else:
        click.echo(link["url"])
        click.echo(f"  for {link['account_sid']}, until {link['date_expires']}", err=True)


@cli.command("portal-expire")
@click.argument("account_sid", required=False)
def portal_expire(account_sid: str | None) -> None:
    """End every portal link and session issued so far for one of your subaccounts (default:
    your own account) — a link handed to the wrong person, say. Links made afterwards work.
    Needs the auth token, not a key."""
    form = {"AccountSid": account_sid} if account_sid else {}
    with state().api() as api:
        expired = api.post("/v1/PortalLinks/ExpireAll", form)
    if state().as_json:
        emit(True, expired)
    else:
        click.echo(f"portal links of {expired['account_sid']} issued until {expired['date_expired']} expired")


@cli.command()
@click.option("--type", "type_name", default="com.twilio.messaging.message.delivered", show_default=True)
@click.option("--count", default=1, show_default=True)
@click.option("--router", default="127.0.0.1:50053", show_default=True, help="the router's gRPC address")
@click.option("--account-sid", help="whose events (default: the profile's account)")
def publish(type_name: str, count: int, router: str, account_sid: str | None) -> None:
    """Publish sample events of a type through the router (a producer's way in: the producer
    SDK over gRPC, with the producer's credential from ES_SERVICE_TOKEN or make run's
    data/credentials/producer)."""
    import asyncio

    from eventstreams_producer import ProducerError
    from evs import publishing

    account = account_sid or state().profiles.resolve(state().profile_name, os.environ).account_sid
    try:
        events = publishing.sample_events(account, type_name, count)
    except LookupError as exc:
        raise CliError(str(exc), "evs types list names them") from exc
    credential = publishing.producer_credential(Path.cwd(), os.environ)
    try:
        results = asyncio.run(publishing.publish(router, credential, events))
    except ProducerError as exc:
        raise CliError(str(exc)) from exc
    for result in results:
        click.echo(publishing.describe(result))
    failures = sum(result.code != 0 for result in results)
    if failures:
        raise CliError(f"{failures} of {count} event(s) were not accepted")


@cli.command()
@click.option("--nats-monitor", default="http://127.0.0.1:8222", show_default=True)
@click.option(
    "--grpc",
    "grpc_addresses",
    default=doctor_checks.DEFAULT_SERVICES,
    show_default=True,
    help="name=address of each gRPC service, comma-separated",
)
def doctor(nats_monitor: str, grpc_addresses: str) -> None:
    """Check a running suite: the gateway and your credentials, each service's health, NATS
    JetStream, and the databases behind the API. With no profile and no credentials in the
    environment, make run's development account (data/dev-account.json) is used."""
    st = state()
    services = doctor_checks.parse_services(grpc_addresses)
    missing = ""
    try:
        profile: Profile | None = st.profiles.resolve(st.profile_name, os.environ)
    except NoCredentials as exc:
        profile = None if st.profile_name else doctor_checks.dev_account_profile(Path.cwd(), os.environ)
        missing = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        if profile is not None:
            where = doctor_checks.dev_account_file(Path.cwd(), os.environ)
            click.echo(f"no profile: using make run's development account ({where})", err=True)
    if profile is None:
        url = os.environ.get("EVS_URL", DEFAULT_URL)
        results = doctor_checks.run(None, None, url, nats_monitor, services, missing)
    else:
        with st.api_factory(profile) as api:
            results = doctor_checks.run(api, profile, profile.url, nats_monitor, services)
    if st.as_json:
        emit(True, [r.__dict__ for r in results])
    else:
        for r in results:
            mark = click.style("ok  ", fg="green") if r.ok else click.style("FAIL", fg="red")
            click.echo(f"{mark}  {r.name:<28} {r.detail}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise CliError(
            f"{len(failed)} check(s) failed",
            "see the lines marked FAIL; make run prints where each part logs",
        )


def main() -> None:
    cli(prog_name="evs")
