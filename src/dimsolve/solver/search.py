"""Push one bound of an interval as far as a monotone solver-backed predicate allows.

Used for fix ranges (how far can a root's range extend and still satisfy the guards) and for
``torch._check`` suggestions (how far from the example does a data-dependent guard keep its value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SEARCH_CAP = 1 << 40  # beyond this a bound is "unbounded" for all practical shapes
FAR_BELOW = -(1 << 62)


@dataclass(frozen=True)
class Refuted:
    """A probe that failed, with a value inside the probed range where it fails (a counterexample)."""

    at: int


Probe = Callable[[int | None], "bool | Refuted"]


def widest_bound(start: int, limit: int | None, up: bool, ok: Probe) -> int | None:
    """The farthest bound from ``start`` towards ``limit`` (None: unbounded) for which ``ok`` holds.

    ``ok(start)`` must hold and ``ok`` must be monotone (a farther bound never helps). ``ok`` may
    return ``Refuted(v)`` instead of False: then no bound at or past ``v`` holds either, and the
    next probe is the bound just before ``v`` (a solver's counterexample is often the first
    failing value, which ends the search in two probes). Without counterexamples it gallops
    outwards, then bisects between the last good and the first bad bound.

    >>> widest_bound(5, None, True, lambda b: b is not None and b <= 40)
    40
    >>> widest_bound(5, None, True, lambda b: True if b is not None and b <= 40 else Refuted(41))
    40
    """
    first = ok(limit)
    if first is True:
        return limit
    far = limit if limit is not None else (start + SEARCH_CAP if up else start - SEARCH_CAP)
    if isinstance(first, Refuted) and _beyond(first.at, start, up):
        return _bisect(start, _nearer(far, first.at, up), up, ok, edge=True)
    good, step = start, 1
    while True:
        probe = start + step if up else start - step
        if not _beyond(far, probe, up):
            return _bisect(good, far, up, ok, edge=False)
        result = ok(probe)
        if result is not True:
            bad = result.at if isinstance(result, Refuted) and _beyond(result.at, good, up) else probe
            return _bisect(good, _nearer(probe, bad, up), up, ok, edge=isinstance(result, Refuted))
        good, step = probe, step * 2


def _beyond(value: int, ref: int, up: bool) -> bool:
    """``value`` is strictly farther from the start than ``ref`` in the search direction."""
    return value > ref if up else value < ref


def _nearer(a: int, b: int, up: bool) -> int:
    return min(a, b) if up else max(a, b)


def _bisect(good: int, bad: int, up: bool, ok: Probe, edge: bool) -> int:
    """Between a holding bound and a failing one; ``edge``: first try the bound next to ``bad``.
    Edge probes alternate with halving, so the search stays logarithmic whatever the counterexamples."""
    while abs(bad - good) > 1:
        probe = (bad - 1 if up else bad + 1) if edge else (good + bad) // 2
        result = ok(probe)
        if result is True:
            good = probe
        else:
            at = result.at if isinstance(result, Refuted) and _beyond(result.at, good, up) else probe
            bad = _nearer(probe, at, up)
        edge = isinstance(result, Refuted) and not edge
    return good
