"""One logging setup for every process: a single line per record, level from settings —
plain text, or JSON (`ES_LOG_FORMAT=json`) for a log pipeline, carrying the event id, sink
and account of the records that concern one (passed as `extra=`)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Record attributes a JSON line carries when a log call gives them (extra={...}).
CONTEXT_FIELDS = ("event_id", "sink_sid", "account_sid", "error_code", "reason")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def formatter(service: str, kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter(service)
    if kind != "text":
        raise ValueError(f"log format {kind!r}: text or json")
    return logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")


def configure(service: str, level: str = "INFO", kind: str = "text") -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(service, kind))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return logging.getLogger(service)
