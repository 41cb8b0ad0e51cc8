"""The normalised form of a ``dynamic_shapes`` value: one ``DimSpec`` per tensor dimension.

Whatever shape the user's spec had (dict by argument name, positional tuple, per-input dict of
index, nested pytrees), it becomes a flat tuple of ``SpecEntry`` plus a ``Layout`` that remembers
the user's own structure so a fixed spec can be given back in the same form.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Union


class AttrKey(str):
    """A key that is an attribute of its container (a namedtuple or dataclass field): ``p.a``, not
    ``p['a']``. Equal to, and hashed as, the plain name, so paths read back from JSON still match."""

    __slots__ = ()


Key = Union[str, int]


def _fmt_key(k: Key) -> str:
    if isinstance(k, AttrKey):
        return f".{k}"
    return f"[{k!r}]" if isinstance(k, str) else f"[{k}]"


@dataclass(frozen=True, slots=True, order=True)
class InputPath:
    """Where an input lives among ``forward``'s arguments: ``("x",)``, ``("inputs", 0, "a")``.

    The first key is always the parameter name (positional arguments are named by the signature).
    """

    keys: tuple[Key, ...]

    def __str__(self) -> str:
        head, *rest = self.keys
        return str(head) + "".join(_fmt_key(k) for k in rest)


SCALAR_AXIS = -1  # the "axis" of an int input marked Dim.AUTO / Dim.DYNAMIC: its value is the dimension


@dataclass(frozen=True, slots=True, order=True)
class DimPath:
    """One dimension of one tensor input (``x.shape[0]``), or an int input's value (``n``, ``cfg['k']``)."""

    input: InputPath
    axis: int

    @property
    def is_scalar(self) -> bool:
        return self.axis == SCALAR_AXIS

    def __str__(self) -> str:
        return str(self.input) if self.is_scalar else f"{self.input}.shape[{self.axis}]"


class DimKind(str, enum.Enum):
    STATIC = "static"  # an int, None, or Dim.STATIC: the size is fixed to the example's
    ROOT = "root"  # a named Dim used directly (coeff 1, offset 0)
    DERIVED = "derived"  # coeff*root + offset, coeff > 0
    AUTO = "auto"  # Dim.AUTO: torch decides; never a violation
    DYNAMIC = "dynamic"  # Dim.DYNAMIC: must stay dynamic


@dataclass(frozen=True, slots=True)
class RootDim:
    """A named ``Dim``. ``max`` None means unbounded (torch's ``int_oo``)."""

    name: str
    min: int = 0
    max: int | None = None

    def admits(self, value: int) -> bool:
        return value >= self.min and (self.max is None or value <= self.max)


@dataclass(frozen=True, slots=True)
class DimSpec:
    """What the spec says about one dimension.

    - STATIC: ``value`` is the fixed size (the example's size for ``None``/``Dim.STATIC``).
    - ROOT / DERIVED: the size is ``coeff*root + offset``; the root's range is in ``Spec.roots``.
    - AUTO / DYNAMIC: ``min``/``max`` are the hint's optional bounds.
    """

    kind: DimKind
    value: int | None = None
    root: str | None = None
    coeff: int = 1
    offset: int = 0
    min: int | None = None
    max: int | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.kind is not DimKind.STATIC

    @property
    def is_named(self) -> bool:
        return self.kind in (DimKind.ROOT, DimKind.DERIVED)

    def expr_text(self) -> str:
        """The user-facing expression: ``dx``, ``2*dx + 1``, ``dy - 6``, ``4``, ``Dim.AUTO``."""
        if self.kind is DimKind.STATIC:
            return str(self.value)
        if self.kind in (DimKind.AUTO, DimKind.DYNAMIC):
            return f"Dim.{self.kind.name}"
        return linear_text(self.root or "?", self.coeff, self.offset)


def linear_text(root: str, coeff: int, offset: int) -> str:
    """``coeff*root + offset`` in torch's own spelling (``2*dx + 1``, ``dx - 6``, ``dx``)."""
    text = root if coeff == 1 else f"{coeff}*{root}"
    if offset > 0:
        text += f" + {offset}"
    elif offset < 0:
        text += f" - {-offset}"
    return text


@dataclass(frozen=True, slots=True)
class SpecEntry:
    """One tensor dimension: where it is, what the spec says, and the example's size."""

    path: DimPath
    spec_path: str  # the user's spelling: dynamic_shapes["x"][0], dynamic_shapes[1][0]
    dim: DimSpec
    example: int

    @property
    def target(self) -> str:
        """How a ``SpecChange`` names this dimension when it has no Dim of its own: its input path
        (``x.shape[0]``), or for an int input its spec path (``dynamic_shapes["n"]``), which cannot be
        mistaken for a Dim name (torch takes no named Dim for an int)."""
        return self.spec_path if self.path.is_scalar else str(self.path)


# --- layout: the user's container structure, kept to rebuild the spec in the same form ---------


class NodeKind(str, enum.Enum):
    DICT = "dict"  # a dict of child specs (top level by argument name, or a dict input)
    TUPLE = "tuple"
    LIST = "list"  # also a registered pytree class (a dataclass): torch takes a list of its fields' specs
    NAMEDTUPLE = "namedtuple"  # torch takes only the input's own namedtuple class (``container``)
    DEQUE = "deque"
    TENSOR = "tensor"  # a per-dimension spec of one tensor (see ``style``)
    NONE = "none"  # None for a whole input (static tensor or non-tensor)
    OTHER = "other"  # a leaf spec for a non-tensor input kept verbatim (e.g. an int input's None)


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """A node of the user's ``dynamic_shapes`` structure.

    For TENSOR nodes ``style`` is how the user wrote the dims (``tuple``, ``list`` or ``dict`` of
    index) and ``axes`` lists the dims written (all of them for tuple/list, the given keys for dict);
    ``input`` is the tensor's path. Containers have ``keys`` and ``children`` in the user's order;
    a NAMEDTUPLE node keeps its class in ``container`` to be rebuilt.
    """

    kind: NodeKind
    keys: tuple[Key, ...] = ()
    children: tuple["LayoutNode", ...] = ()
    style: str = ""
    axes: tuple[int, ...] = ()
    input: InputPath | None = None
    container: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Spec:
    """A normalised spec. ``entries`` cover every dimension of every tensor input (static ones too)."""

    entries: tuple[SpecEntry, ...]
    roots: dict[str, RootDim] = field(default_factory=dict, hash=False)
    layout: LayoutNode | None = None
    # the spec was given for keyword inputs as well: the names of forward's params in order
    params: tuple[str, ...] = ()

    def entry(self, path: DimPath) -> SpecEntry | None:
        for e in self.entries:
            if e.path == path:
                return e
        return None

    def dynamic_entries(self) -> tuple[SpecEntry, ...]:
        return tuple(e for e in self.entries if e.dim.is_dynamic)

    def users_of(self, root: str) -> tuple[SpecEntry, ...]:
        return tuple(e for e in self.entries if e.dim.root == root)

    def used_directly(self, root: str) -> bool:
        """Some input's size *is* the root (``x: d``), not only derived from it: torch then checks
        the root's range on that input, and its example value is that input's size."""
        return any(e.dim.kind is DimKind.ROOT and e.dim.root == root for e in self.entries)

    def root_example(self, root: str) -> int | None:
        """The root's value at the example, read off its first named user (``x: d + 2``, x = 3: 1);
        parsing has checked that every user agrees. None when no entry uses it."""
        for e in self.entries:
            if e.dim.is_named and e.dim.root == root:
                return (e.example - e.dim.offset) // e.dim.coeff
        return None
