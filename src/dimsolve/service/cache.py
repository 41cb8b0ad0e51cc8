"""Identical checks are answered once: an LRU of reports keyed by the request's canonical hash.

The key is the sha256 of the request as canonical JSON (keys sorted, no whitespace), so two
bodies that differ only in formatting or key order share an answer. Checks of one key that are
already running are joined, not repeated. Only the event loop touches this, so no locks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any


def request_key(data: Any) -> str:
    """sha256 of ``data`` as canonical JSON.

    >>> request_key({"b": 1, "a": [1, 2]}) == request_key({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReportCache:
    """At most ``max_entries`` answers and ``max_bytes`` of answer text, least recently used out first."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._running: dict[str, asyncio.Future[tuple[str, bool]]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        size = len(value)
        if self.max_entries <= 0 or size > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._items[key] = value
        self._bytes += size
        while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)

    async def answer(self, key: str, compute: Callable[[], Awaitable[tuple[str, bool]]]) -> tuple[str, str]:
        """(report JSON, ``hit`` | ``joined`` | ``miss``): cached, shared with a running check, or computed.

        ``compute`` returns the report's JSON and whether it may be cached; its exceptions reach
        every caller waiting on the same key.
        """
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached, "hit"
        running = self._running.get(key)
        if running is not None:
            try:
                text, _ = await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this request itself was cancelled
                return await self.answer(key, compute)  # the running check's request went away
            else:
                self.hits += 1
                return text, "joined"
        self.misses += 1
        future: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            text, cacheable = await compute()
        except asyncio.CancelledError:
            future.cancel()  # a joined request then computes the answer itself
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: no "never retrieved" warning when nobody joined
            raise
        finally:
            del self._running[key]
        future.set_result((text, cacheable))
        if cacheable:
            self.put(key, text)
        return text, "miss"
