"""The REST API as the CLI uses it: httpx (the transport injectable, for tests), Basic auth,
form-encoded parameters, Twilio's error bodies turned into errors that say what happened."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from evs.errors import ApiError, BadCredentials, Unreachable
from evs.profiles import Profile

Form = Mapping[str, str | Sequence[str]]


class Api:
    def __init__(
        self, profile: Profile, transport: httpx.BaseTransport | None = None, timeout: float = 30.0
    ) -> None:
        self.profile = profile
        self._http = httpx.Client(
            base_url=profile.url.rstrip("/"),
            auth=(profile.username, profile.password),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "evs/0.1"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, params: Mapping[str, str] | None = None, form: Form | None = None
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, params=params, data=form)
        except httpx.TransportError as exc:
            raise Unreachable(
                f"cannot reach the gateway at {self.profile.url}: {exc}",
                "is the suite running (make run)? is the profile's URL right?",
            ) from None
        if response.status_code == 204:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            code = int(body.get("code") or 0)
            message = str(body.get("message") or response.reason_phrase)
            if response.status_code == 401:
                raise BadCredentials(
                    f"the gateway refused these credentials: {message}",
                    "check the profile's Account SID and auth token (or API key and secret)",
                )
            raise ApiError(response.status_code, code, message, str(body.get("more_info") or ""))
        return dict(body)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, form: Form) -> dict[str, Any]:
        return self.request("POST", path, form=form)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def each(self, path: str, key: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, following its next-page links: `meta.next_page_url` (Events
        v1), or `next_page_uri` (the 2010-04-01 API's lists, e.g. usage records)."""
        page = self.get(path, params)
        while True:
            yield from page.get(key, [])
            following = (page.get("meta") or {}).get("next_page_url") or page.get("next_page_uri")
            if not following:
                return
            page = self.get(str(following))
