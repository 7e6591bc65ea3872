"""An event for a sink this worker cannot deliver to: its configuration unusable, deleted,
not seen yet, or its account's routing not read yet. For a sink not known here, whether this
worker is behind the router decides what becomes of it (`decision.UnknownSink`): asked about
again while routing may yet bring the sink. The lanes and the ordered lanes both judge so."""

from __future__ import annotations

from runtime.routing_demand import AccountReach
from services.delivery.directory import Route, SinkDirectory
from services.delivery.errors import SinkGone
from services.delivery.intake.envelope import Envelope
from services.delivery.settling.decision import Happened
from services.delivery.sinks.base import Outcome


def unusable(route: Route | None, directory: SinkDirectory, sink_sid: str) -> Happened | None:
    """What became of an event whose sink has no usable route (`route.sink` None), when that
    is known: its configuration's problem, or deleted. None: the sink is not known here —
    an `UnknownSink`, judged by `routed_ahead`."""
    if route is not None:
        return Outcome(error=route.problem)
    if directory.removed(sink_sid):
        return Outcome(error=SinkGone(f"sink {sink_sid} was deleted"))
    return None


def routed_ahead(envelope: Envelope, directory: SinkDirectory, accounts: AccountReach) -> bool | None:
    """Whether the router routed the event at a revision later than this worker's routing of
    its account (the snapshot's, or the account's when held on demand); None: the event does
    not say."""
    if not envelope.revision:
        return None
    known = max(directory.revision, accounts.known_at(envelope.event.account_sid))
    return envelope.revision > known
