"""Aggregate limits per account tree (a main account and its subaccounts): pure policy.

Per-account limits (100 sinks, 100 subscriptions) multiply by subaccounts, and one
subscription's cost multiplies by its types; a tree's routing state is bounded here as a
whole. `routing_bytes` estimates what a subscription costs in the routing state routers and
workers hold and receive: an upper bound of its serialized `RoutedSubscription` (three SIDs,
each type with its pinned version, the filter, the ordering key, and the framing around
them), so a tree within `TreeLimits.routing_bytes` always travels in one gRPC message.

A refusal is Twilio's answer for "too many": HTTP 400 with 91003 (the account reached a
limit) for counts, 91101 (subscription could not be created) for one subscription's shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runtime.errors import InvalidArgument, LimitExceeded, ServiceError

TOO_MANY = 91003
BAD_SUBSCRIPTION = 91101

# Three 34-character SIDs with their tags and lengths (108), the bool, the filter's and the
# ordering key's tags and lengths, and the message's own tag and length in a list: ≤ 122.
SUBSCRIPTION_OVERHEAD = 128
# A TypeSelector's tag and length, the name's tag and length, the version's tag and varint.
TYPE_OVERHEAD = 16


@dataclass(frozen=True)
class TreeLimits:
    subaccounts: int = 1000
    sinks: int = 2000
    subscriptions: int = 2000
    types_per_subscription: int = 200
    filter_chars: int = 1024
    routing_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class TreeUsage:
    """What a tree holds — or would hold after a change."""

    subaccounts: int = 0
    sinks: int = 0
    subscriptions: int = 0
    routing_bytes: int = 0


def routing_bytes(types: Iterable[str], filter_text: str | None, ordering_key: str | None) -> int:
    """The routing state one subscription costs, in bytes (an upper bound of its wire form)."""
    return (
        SUBSCRIPTION_OVERHEAD
        + len((filter_text or "").encode())
        + len((ordering_key or "").encode())
        + sum(TYPE_OVERHEAD + len(name.encode()) for name in types)
    )


def types_refusal(limits: TreeLimits, type_count: int) -> ServiceError | None:
    """Why a subscription of `type_count` event types is refused, or None."""
    if type_count > limits.types_per_subscription:
        return InvalidArgument(
            "Subscription could not be created: at most "
            f"{limits.types_per_subscription} event types per subscription ({type_count} given)",
            twilio_code=BAD_SUBSCRIPTION,
        )
    return None


def filter_refusal(limits: TreeLimits, filter_text: str | None) -> ServiceError | None:
    """Why a subscription's filter is refused for its length, or None."""
    length = len(filter_text or "")
    if length > limits.filter_chars:
        return InvalidArgument(
            f"Filter must be at most {limits.filter_chars} characters ({length} given)",
            twilio_code=BAD_SUBSCRIPTION,
        )
    return None


def tree_refusal(limits: TreeLimits, before: TreeUsage, after: TreeUsage) -> ServiceError | None:
    """Why a change taking a tree from `before` to `after` is refused, or None. Only what
    grows is checked: a tree already past a lowered limit may still shrink or stay."""
    checks = (
        ("subaccounts", before.subaccounts, after.subaccounts, limits.subaccounts),
        ("sinks", before.sinks, after.sinks, limits.sinks),
        ("subscriptions", before.subscriptions, after.subscriptions, limits.subscriptions),
        ("bytes of routing state", before.routing_bytes, after.routing_bytes, limits.routing_bytes),
    )
    for what, old, new, most in checks:
        if new > old and new > most:
            return LimitExceeded(
                f"Account reached the maximum number of {what} across the account and its "
                f"subaccounts ({most})",
                twilio_code=TOO_MANY,
            )
    return None
