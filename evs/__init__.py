"""`evs`: Event Streams from the command line, through the REST API (as twilio-cli is
through Twilio's) — profiles with credentials, sinks, subscriptions, types, the delivery log,
dead letters, replays — plus `publish` (sample events, through the router's gRPC) and
`doctor` (is a running suite well)."""

import sys as _sys
from pathlib import Path as _Path

# The gRPC code `make` generates lives in gen/ (not a package of the install): the console
# script runs from anywhere, so it finds it beside this package, as the services' PYTHONPATH does.
_GEN = _Path(__file__).resolve().parent.parent / "gen"
if _GEN.is_dir() and str(_GEN) not in _sys.path:
    _sys.path.append(str(_GEN))
