"""Push one bound of an interval as far as a monotone solver-backed predicate allows.

Used for fix ranges (how far can a root's range extend and still satisfy the guards) and for
``torch._check`` suggestions (how far from the example does a data-dependent guard keep its value).
"""

from __future__ import annotations

from collections.abc import Callable

SEARCH_CAP = 1 << 40  # beyond this a bound is "unbounded" for all practical shapes
FAR_BELOW = -(1 << 62)


def widest_bound(start: int, limit: int | None, up: bool, ok: Callable[[int | None], bool]) -> int | None:
    """The farthest bound from ``start`` towards ``limit`` (None: unbounded) for which ``ok`` holds.

    ``ok(start)`` must hold and ``ok`` must be monotone (a farther bound never helps). Gallops
    outwards, then bisects between the last good and the first bad bound.
    """
    if ok(limit):
        return limit
    far = limit if limit is not None else (start + SEARCH_CAP if up else start - SEARCH_CAP)
    good, step = start, 1
    while True:
        probe = start + step if up else start - step
        if (up and probe >= far) or (not up and probe <= far) or not ok(probe):
            bad = min(probe, far) if up else max(probe, far)
            break
        good, step = probe, step * 2
    while abs(bad - good) > 1:
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good
