"""One client may hold only its share of the solver workers.

Checks are bounded by a budget, not by cost: a handful of expensive requests from one client would
otherwise take every worker and make everyone else's checks wait up to ``request_timeout_s``. A
client (its address) gets at most ``per_client`` checks running or waiting for a worker; more of
its checks wait for one of its own to end, within the same deadline. Clients behind one address
(a proxy) share a share: give such a deployment ``--max-per-client``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ClientShare:
    """Per-client slots; a client's semaphore exists only while it has checks in flight."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, client: str, timeout_s: float) -> AsyncIterator[bool]:
        """Hold one of ``client``'s slots; yields False when none came free within ``timeout_s``."""
        slots = self._slots.setdefault(client, asyncio.Semaphore(self.per_client))
        self._users[client] = self._users.get(client, 0) + 1
        try:
            try:
                await asyncio.wait_for(slots.acquire(), max(0.0, timeout_s))
            except asyncio.TimeoutError:
                yield False
                return
            try:
                yield True
            finally:
                slots.release()
        finally:
            self._users[client] -= 1
            if not self._users[client]:
                del self._users[client], self._slots[client]
