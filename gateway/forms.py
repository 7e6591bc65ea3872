"""Reading Twilio-style parameters: form-encoded PascalCase, some of them JSON strings."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from runtime.errors import InvalidArgument

Params = Mapping[str, Any]

URLENCODED = "application/x-www-form-urlencoded"


async def read(request: Request) -> FormData:
    """A request's form. A url-encoded body is read in the charset it declares, UTF-8 when it
    declares none — what Twilio's clients and a shell's `curl -d` send, escaped or not — where
    Starlette reads raw bytes as Latin-1; a body not in its charset is refused, not guessed
    at. Other bodies are Starlette's to read."""
    media_type, _, options = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() != URLENCODED:
        return await request.form()
    charset = "utf-8"
    for option in options.split(";"):
        name, _, value = option.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or charset
    try:
        codecs.lookup(charset)
        text = (await request.body()).decode(charset)
        pairs: list[tuple[str, str | UploadFile]] = [
            *parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
        ]
    except LookupError:  # no such charset, or a codec that is not one (rot13, base64)
        raise InvalidArgument(f"The form's charset {charset!r} is not one this server reads") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"The form body is not {charset}") from None
    return FormData(pairs)


def reject_unknown(params: Params, allowed: Iterable[str]) -> None:
    unknown = sorted(set(params.keys()) - set(allowed))
    if unknown:
        raise InvalidArgument(f"Unknown parameter(s): {', '.join(unknown)}")


def required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or not str(value).strip():
        raise InvalidArgument(f"Missing required parameter {name} in the post body")
    return str(value)


def optional(params: Params, name: str, default: str = "") -> str:
    value = params.get(name)
    return default if value is None else str(value)


INT32_MAX = 2**31 - 1


def integer(
    params: Params, name: str, default: int = 0, minimum: int | None = None, maximum: int | None = INT32_MAX
) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise InvalidArgument(f"{name} must be an integer") from exc
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidArgument(f"{name} must be between {minimum} and {maximum}")
    return value


def boolean(params: Params, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    lowered = str(raw).lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidArgument(f"{name} must be true or false")


def json_object(raw: str, name: str, code: int) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # deep nesting is not a server error
        raise InvalidArgument(f"{name} is not valid JSON", twilio_code=code) from exc
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name} must be a JSON object", twilio_code=code)
    return value
