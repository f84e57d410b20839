"""Pure parts of the AMI client: reconnect delays, typed events, subscription limits."""

from __future__ import annotations

import random
from itertools import islice
from types import MappingProxyType

import pytest
from gatekeeper.ami.client import AmiEvent, Subscription, backoff_delays
from gatekeeper.common.errors import AmiError


def test_backoff_delays_stay_below_a_doubling_ceiling_up_to_the_cap() -> None:
    """Each delay lies between half the first delay and a ceiling that doubles to the cap."""
    delays = list(islice(backoff_delays(0.2, 3.0, random.Random(7)), 12))
    ceilings = [min(3.0, 0.2 * 2**i) for i in range(12)]
    assert all(0.1 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_backoff_delays_are_jittered() -> None:
    """Two clients reconnecting at once draw different delays."""
    first = list(islice(backoff_delays(0.2, 30.0, random.Random(1)), 6))
    second = list(islice(backoff_delays(0.2, 30.0, random.Random(2)), 6))
    assert first != second


def test_event_field_lookup_defaults_to_empty() -> None:
    """A field an event does not carry reads as the default."""
    event = AmiEvent("Hangup", MappingProxyType({"Cause": "16"}))
    assert (event.get("Cause"), event.get("Linkedid"), event.get("X", "-")) == ("16", "", "-")


def test_event_is_immutable() -> None:
    """Events are frozen: a consumer cannot alter what another one sees."""
    event = AmiEvent("Hangup")
    with pytest.raises(AttributeError):
        event.name = "Other"  # type: ignore[misc]


class _Owner:
    def _unsubscribe(self, subscription: Subscription) -> None:
        pass


@pytest.mark.asyncio
async def test_subscriber_that_falls_behind_is_told_so() -> None:
    """A subscriber past its limit gets AmiError instead of silently missing events."""
    subscription = Subscription(_Owner(), limit=2)  # type: ignore[arg-type]
    for n in range(3):
        subscription._deliver(AmiEvent(f"E{n}"))
    names = [(await subscription.get()).name, (await subscription.get()).name]
    with pytest.raises(AmiError, match="fell 2 events behind"):
        await subscription.get()
    assert names == ["E0", "E1"]


@pytest.mark.asyncio
async def test_closed_subscription_ends_iteration() -> None:
    """Iterating a closed subscription yields what was queued, then stops."""
    subscription = Subscription(_Owner(), limit=10)  # type: ignore[arg-type]
    subscription._deliver(AmiEvent("E0"))
    subscription.close()
    assert [event.name async for event in subscription] == ["E0"]
