"""Twilio's list envelope: the resource key and a `meta` block whose next/previous URLs
carry the server's page tokens, so clients page through any number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from gateway import forms
from runtime.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

PAGING = ("PageSize", "Page", "PageToken")


class PageTokens(Protocol):
    """Every list response of our gRPC contracts carries these."""

    next_page_token: str
    previous_page_token: str


@dataclass(frozen=True)
class PageRequest:
    size: int
    page: int
    token: str

    @classmethod
    def read(cls, params: forms.Params, *filters: str) -> PageRequest:
        """The paging parameters of a list request; any parameter other than these and the
        list's `filters` is refused."""
        forms.reject_unknown(params, {*filters, *PAGING})
        return cls(
            size=forms.integer(params, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
            page=forms.integer(params, "Page", 0, 0),
            token=forms.optional(params, "PageToken"),
        )

    def link(self, base: str, filters: dict[str, str], page: int, token: str) -> str:
        """The URL of page `page` of this list (the filters kept, the server's token given)."""
        query = {**filters, "PageSize": str(self.size), "Page": str(page)}
        if token:
            query["PageToken"] = token
        return f"{base}?{urlencode(query)}"


def envelope(
    key: str,
    items: Sequence[dict[str, Any]],
    base_url: str,
    filters: dict[str, str],
    request: PageRequest,
    found: PageTokens,
) -> dict[str, Any]:
    next_token, previous_token = found.next_page_token, found.previous_page_token

    def url(page: int, token: str) -> str:
        return request.link(base_url, filters, page, token)

    return {
        key: list(items),
        "meta": {
            "page": request.page,
            "page_size": request.size,
            "first_page_url": url(0, ""),
            "previous_page_url": url(max(0, request.page - 1), previous_token) if previous_token else None,
            "url": url(request.page, request.token),
            "next_page_url": url(request.page + 1, next_token) if next_token else None,
            "key": key,
        },
    }
