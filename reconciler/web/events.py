"""The event stream (Server-Sent Events) behind the live dashboard: ``GET /api/v1/stream``.

Messages, each ``event: NAME`` with one JSON ``data:`` line:

- ``deployment``: the documents (``views.deployment_document``) of deployments that changed,
  sent ~0.1 s after the pass that changed them (their pods are in the store by then);
- ``deleted``: ``[{"namespace", "name"}]`` of deployments that are gone;
- ``event``: new events (and repeats, with their count), as the API's ``events`` list;
- ``traffic``: every second while something changed, the proxy's per-revision counters;
- ``hello`` first (the server's time), and a comment every 15 s so proxies keep it open.

A client that cannot keep up (a full queue of 256 messages) is sent ``resync`` and
disconnected; the page then reloads its snapshot. The stream is read with ``fetch`` in the
dashboard (EventSource cannot send an ``Authorization`` header), or with ``curl -N``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["Hub", "Subscriber", "sse_message"]

QUEUE_LIMIT = 256


def sse_message(event: str, data: Any) -> bytes:
    """One SSE message (``data`` as JSON on a single line).

    >>> sse_message("hello", {"a": 1})
    b'event: hello\\ndata: {"a":1}\\n\\n'
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n".encode()


class Subscriber:
    __slots__ = ("overflowed", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False


class Hub:
    """Fan-out of stream messages to every open page."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def broadcast(self, event: str, data: Any) -> None:
        if not self._subscribers:
            return
        message = sse_message(event, data)
        for subscriber in list(self._subscribers):
            if subscriber.overflowed:
                continue
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscriber.overflowed = True
                # make room for the last word: reload
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(sse_message("resync", {}))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
