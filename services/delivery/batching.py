"""How many ready events go into one webhook request."""

from __future__ import annotations

from collections.abc import Sequence

# Twilio: "Batched events currently have a 64kB data limit."
MAX_BATCH_BYTES = 64 * 1024


def array_size(event_sizes: Sequence[int]) -> int:
    """Bytes of a JSON array of these encoded events: brackets and commas included."""
    return 2 + sum(event_sizes) + max(0, len(event_sizes) - 1)


def take(event_sizes: Sequence[int], limit_bytes: int = MAX_BATCH_BYTES, max_events: int = 1000) -> int:
    """How many of the ready events (in order) fit one batch body of at most `limit_bytes`.
    Always at least one: an event larger than the limit travels alone rather than never."""
    if not event_sizes:
        return 0
    used = 2 + event_sizes[0]
    count = 1
    for size in event_sizes[1:max_events]:
        if used + 1 + size > limit_bytes:
            break
        used += 1 + size
        count += 1
    return count
