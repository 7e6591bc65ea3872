"""An event for a sink this worker does not know: deleted, not seen yet, or its account's
routing not read yet. Whether this worker is behind the router decides what becomes of it
(`decision.UnknownSink`): asked about again while routing may yet bring the sink."""

from __future__ import annotations

from runtime.routing_demand import AccountReach
from services.delivery.directory import SinkDirectory
from services.delivery.intake.envelope import Envelope


def routed_ahead(envelope: Envelope, directory: SinkDirectory, accounts: AccountReach) -> bool | None:
    """Whether the router routed the event at a revision later than this worker's routing of
    its account (the snapshot's, or the account's when held on demand); None: the event does
    not say."""
    if not envelope.revision:
        return None
    known = max(directory.revision, accounts.known_at(envelope.event.account_sid))
    return envelope.revision > known
