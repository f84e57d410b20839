"""Helpers for the AMI tests: an in-memory recorder, an event waiter and a tiny FastAGI peer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from gatekeeper.ami.client import AmiEvent, Subscription

EVENT_WAIT_S = 10.0


@dataclass
class MemoryLog:
    """Implements BypassRecorder and OutcomeRecorder; tests wait on what it receives."""

    events: list[tuple[str, Mapping[str, object]]] = field(default_factory=list)
    outcomes: dict[str, Mapping[str, object]] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def record_event(self, kind: str, details: Mapping[str, object]) -> str:
        """Keep the event; its id is its position."""
        async with self.changed:
            self.events.append((kind, dict(details)))
            self.changed.notify_all()
        return str(len(self.events))

    async def record_outcome(self, uniqueid: str, outcome: Mapping[str, object]) -> None:
        """Keep the outcome under its uniqueid."""
        async with self.changed:
            self.outcomes[uniqueid] = dict(outcome)
            self.changed.notify_all()

    async def outcome_of(self, uniqueid: str) -> Mapping[str, object]:
        """Wait for the outcome of a call."""
        async with asyncio.timeout(EVENT_WAIT_S), self.changed:
            await self.changed.wait_for(lambda: uniqueid in self.outcomes)
            return self.outcomes[uniqueid]

    async def event_of(self, kind: str, **details: object) -> Mapping[str, object]:
        """Wait for an event of this kind whose details include these values."""

        def found() -> Mapping[str, object] | None:
            for seen, fields in self.events:
                if seen == kind and all(fields.get(k) == v for k, v in details.items()):
                    return fields
            return None

        async with asyncio.timeout(EVENT_WAIT_S), self.changed:
            await self.changed.wait_for(lambda: found() is not None)
            fields = found()
            assert fields is not None
            return fields

    async def bypass_for(self, uniqueid: str) -> Mapping[str, object]:
        """Wait for the bypass record that names a channel's uniqueid."""

        def found() -> Mapping[str, object] | None:
            for kind, details in self.events:
                if kind == "bypass" and uniqueid in (details["uniqueid"], details["linkedid"]):
                    return details
            return None

        async with asyncio.timeout(EVENT_WAIT_S), self.changed:
            await self.changed.wait_for(lambda: found() is not None)
            details = found()
            assert details is not None
            return details


async def next_event(events: Subscription, name: str, **fields: str) -> AmiEvent:
    """The next event with this name and these field values (a failure after 10 s)."""
    async with asyncio.timeout(EVENT_WAIT_S):
        while True:
            event = await events.get()
            if event.name == name and all(event.get(k) == v for k, v in fields.items()):
                return event


Answer = Callable[[dict[str, str]], Awaitable[Mapping[str, str]]]


async def serve_agi(port: int, answer: Answer) -> asyncio.Server:
    """A minimal FastAGI peer: reads the environment, sets the variables `answer` returns."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            environment: dict[str, str] = {}
            while line := (await reader.readline()).decode().strip():
                key, _, value = line.partition(": ")
                environment[key] = value
            for name, value in (await answer(environment)).items():
                writer.write(f'SET VARIABLE {name} "{value}"\n'.encode())
                await writer.drain()
                await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()

    return await asyncio.start_server(handle, "127.0.0.1", port)
