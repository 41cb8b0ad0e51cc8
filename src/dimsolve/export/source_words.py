"""The user's own words for a data-dependent value: a variable a ``torch._check`` can name, or the
condition of the statement at a line, as written in the source.

A ``torch._check`` line only helps when it names the very value tracing needs: ``n_img`` after
``n_img = mask.sum().item()``, or ``n.item()`` of a tensor variable ``n`` (torch's fake tensors give
one tensor's ``.item()`` one value). ``x.sum().item()`` computes a new tensor each time it is
written, and a condition like ``if (x > 0).sum() > 2:`` is a tensor, so neither can be pasted.
"""

from __future__ import annotations

import ast
import functools
import keyword
import linecache
import re

from dimsolve.diagnostics.model import SourceLocation

# a variable, an element of one, one of its sizes, or a tensor variable's value: ``k``, ``b[0]``,
# ``idx.shape[0]``, ``cfg['k']``, ``n.item()``
_VARIABLE = re.compile(r"([A-Za-z_]\w*)((\[\d+\]|\['[^'\]]*'\]|\.shape\[\d+\])*)(\.item\(\))?")


def is_variable(text: str) -> bool:
    """``text`` names a value of the user's code that stays the same when written again.

    >>> is_variable("n_img"), is_variable("idx.shape[0]"), is_variable("n.item()"), is_variable("x.sum().item()")
    (True, True, True, False)
    """
    match = _VARIABLE.fullmatch(text)
    return match is not None and not keyword.iskeyword(match.group(1))


@functools.lru_cache(maxsize=64)
def _tests(filename: str) -> dict[int, str]:
    """line -> the test of the ``if``/``elif``/``while``/``assert`` statement that starts there."""
    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.While, ast.Assert)):
            text = ast.get_source_segment(source, node.test)
            if text is not None:
                out.setdefault(node.lineno, " ".join(text.split()))
    return out


def condition_at(location: SourceLocation | None) -> str | None:
    """The condition of the ``if``/``elif``/``while``/``assert`` statement at ``location``, as written
    (``(x > 0).sum() > 2``); None for any other statement or an unreadable source."""
    if location is None or not location.file:
        return None
    return _tests(location.file).get(location.line)
