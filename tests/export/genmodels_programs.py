"""Generated models and generated ``dynamic_shapes`` specs for ``test_generated_models.py``.

A *program* is a list of op descriptors (plain tuples) over a list of values that starts with the model's
input tensors; every op appends one value. ``ProgramModel`` interprets a program in ``forward``, so every
drawn program is a real ``nn.Module``. Shapes are tracked in plain Python (``propagate``) so that the
generator only draws ops that are valid on the example inputs, and so that the test can tell which
other input sizes the model itself accepts.

A *spec* is drawn as plain data (``SpecPlan``) and then turned into real torch ``Dim`` objects in the
structure torch accepts (a dict by forward argument name, one tuple entry per axis). The plan is also an
independent reading of the spec: ``admitted`` completes a partial size assignment (a counterexample) with
the example sizes and decides whether the spec admits it, without going through dimsolve's parser.

Op descriptors:

    ("add", i, j)                 vals[i] + vals[j]          (broadcast-compatible example shapes)
    ("matmul", i, j)              vals[i] @ vals[j]          (2-D, inner sizes equal)
    ("cat", i, j)                 torch.cat([vals[i], vals[j]])   (same rank, equal trailing sizes)
    ("flatten", i)                vals[i].reshape(-1)
    ("slice1", i)                 vals[i][1:]
    ("slice2", i)                 vals[i][::2]
    ("linear", i, in_f, out_f)    Linear(in_f, out_f) on the last dim (in_f = the example's last size)
    ("branch", i, k)              vals[i] * 2 if vals[i].shape[0] <= k else vals[i] - 1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import strategies as st
from torch.export import Dim

Shape = tuple[int, ...]
Op = tuple[Any, ...]

INPUT_NAMES = ("x0", "x1", "x2", "x3")

# ----------------------------------------------------------------------------------------------
# Shapes, in plain Python
# ----------------------------------------------------------------------------------------------


def broadcastable(a: Shape, b: Shape) -> bool:
    """Broadcast-compatible without any size-1 axis (the generator never makes size 0 or 1)."""
    return all(x == y for x, y in zip(reversed(a), reversed(b)))


def op_shape(op: Op, shapes: list[Shape]) -> Shape | None:
    """The shape ``op`` produces from ``shapes`` (the values so far); None if the op is invalid there
    or would make a size below 2 (sizes 0/1 specialise in torch: out of this test's scope)."""
    kind, i = op[0], op[1]
    s = shapes[i]
    if kind == "add":
        t = shapes[op[2]]
        if not broadcastable(s, t):
            return None
        out = s if len(s) >= len(t) else t
    elif kind == "matmul":
        t = shapes[op[2]]
        if len(s) != 2 or len(t) != 2 or s[1] != t[0]:
            return None
        out = (s[0], t[1])
    elif kind == "cat":
        t = shapes[op[2]]
        if len(s) != len(t) or s[1:] != t[1:]:
            return None
        out = (s[0] + t[0],) + s[1:]
    elif kind == "flatten":
        out = (math.prod(s),)
    elif kind == "slice1":
        out = (s[0] - 1,) + s[1:]
    elif kind == "slice2":
        out = ((s[0] + 1) // 2,) + s[1:]
    elif kind == "linear":
        if s[-1] != op[2]:
            return None
        out = s[:-1] + (op[3],)
    elif kind == "branch":
        out = s
    else:  # pragma: no cover - generator bug
        raise AssertionError(f"unknown op {op!r}")
    return out if min(out) >= 2 else None


def propagate(program: list[Op], inputs: list[Shape]) -> list[Shape] | None:
    """Every value's shape (inputs first), or None if some op is invalid for these input shapes."""
    shapes = list(inputs)
    for op in program:
        out = op_shape(op, shapes)
        if out is None:
            return None
        shapes.append(out)
    return shapes


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class ProgramModel(torch.nn.Module):
    """Interprets ``program``; returns every value the program made (so no op is dead code)."""

    def __init__(self, program: list[Op]) -> None:
        super().__init__()
        self.program = [tuple(op) for op in program]
        torch.manual_seed(0)
        self.linears = torch.nn.ModuleList(
            torch.nn.Linear(op[2], op[3]) for op in self.program if op[0] == "linear")

    def run(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        vals = list(inputs)
        n_linear = 0
        for op in self.program:
            kind, t = op[0], vals[op[1]]
            if kind == "add":
                out = t + vals[op[2]]
            elif kind == "matmul":
                out = t @ vals[op[2]]
            elif kind == "cat":
                out = torch.cat([t, vals[op[2]]], dim=0)
            elif kind == "flatten":
                out = t.reshape(-1)
            elif kind == "slice1":
                out = t[1:]
            elif kind == "slice2":
                out = t[::2]
            elif kind == "linear":
                out = self.linears[n_linear](t)
                n_linear += 1
            elif kind == "branch":
                if t.shape[0] <= op[2]:
                    out = t * 2
                else:
                    out = t - 1
            else:  # pragma: no cover
                raise AssertionError(op)
            vals.append(out)
        return tuple(vals[len(inputs):])


class Program2(ProgramModel):
    def forward(self, x0, x1):
        return self.run((x0, x1))


class Program3(ProgramModel):
    def forward(self, x0, x1, x2):
        return self.run((x0, x1, x2))


class Program4(ProgramModel):
    def forward(self, x0, x1, x2, x3):
        return self.run((x0, x1, x2, x3))


MODEL_CLASSES = {2: Program2, 3: Program3, 4: Program4}


def make_model(program: list[Op], n_inputs: int) -> ProgramModel:
    return MODEL_CLASSES[n_inputs](program).eval()


def make_inputs(shapes: list[Shape], seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=g) for s in shapes)


def program_source(program: list[Op], n_inputs: int) -> str:
    """A straight-line, standalone rendering of the model (for bug reports)."""
    names = list(INPUT_NAMES[:n_inputs])
    lines, inits = [], []
    n_linear = 0
    for k, op in enumerate(program):
        kind, a = op[0], names[op[1]]
        v = f"v{k}"
        if kind == "add":
            lines.append(f"{v} = {a} + {names[op[2]]}")
        elif kind == "matmul":
            lines.append(f"{v} = {a} @ {names[op[2]]}")
        elif kind == "cat":
            lines.append(f"{v} = torch.cat([{a}, {names[op[2]]}], dim=0)")
        elif kind == "flatten":
            lines.append(f"{v} = {a}.reshape(-1)")
        elif kind == "slice1":
            lines.append(f"{v} = {a}[1:]")
        elif kind == "slice2":
            lines.append(f"{v} = {a}[::2]")
        elif kind == "linear":
            inits.append(f"self.lin{n_linear} = torch.nn.Linear({op[2]}, {op[3]})")
            lines.append(f"{v} = self.lin{n_linear}({a})")
            n_linear += 1
        elif kind == "branch":
            lines.append(f"{v} = {a} * 2 if {a}.shape[0] <= {op[2]} else {a} - 1")
        names.append(v)
    outs = ", ".join(names[n_inputs:])
    body = ["class M(torch.nn.Module):"]
    if inits:
        body += ["    def __init__(self):", "        super().__init__()"] + [f"        {s}" for s in inits]
    body += [f"    def forward(self, {', '.join(INPUT_NAMES[:n_inputs])}):"]
    body += [f"        {s}" for s in lines] + [f"        return ({outs},)"]
    return "\n".join(body)


# ----------------------------------------------------------------------------------------------
# Drawing programs
# ----------------------------------------------------------------------------------------------


@st.composite
def input_shapes(draw: Any) -> list[Shape]:
    """2-4 input shapes of rank 1-3, sizes 2..9; sizes mostly come from a small pool so that inputs
    are often compatible with each other."""
    n = draw(st.integers(2, 4))
    base = draw(st.integers(2, 8))
    # related sizes make slices, cats and flattens line up with other inputs: b, b + 1, b - 1, 2b, 2b + 1
    related = [v for v in (base + 1, base - 1, 2 * base, 2 * base + 1) if 2 <= v <= 9]
    pool = [base] + draw(st.lists(st.sampled_from(related), max_size=2, unique=True))
    size = st.one_of(st.sampled_from(pool), st.sampled_from(pool), st.integers(2, 9))
    return [tuple(draw(st.lists(size, min_size=r, max_size=r))) for r in draw(
        st.lists(st.sampled_from([1, 2, 2, 2, 3]), min_size=n, max_size=n))]


def _candidates(kind: str, shapes: list[Shape]) -> list[Op]:
    idx = range(len(shapes))
    if kind in ("add", "matmul", "cat"):
        ops = [(kind, i, j) for i in idx for j in idx]
    elif kind == "linear":
        ops = [("linear", i, shapes[i][-1], 3) for i in idx]
    elif kind == "branch":
        ops = [("branch", i, 0) for i in idx]
    else:
        ops = [(kind, i) for i in idx]
    return [op for op in ops if op_shape(op, shapes) is not None]


OP_KINDS = ("add", "matmul", "cat", "flatten", "slice1", "slice2", "linear", "branch")


@st.composite
def programs(draw: Any, shapes: list[Shape]) -> list[Op]:
    """1-4 ops, each valid on the example shapes of the values it reads."""
    vals = list(shapes)
    program: list[Op] = []
    for _ in range(draw(st.integers(1, 4))):
        kinds = [k for k in OP_KINDS if _candidates(k, vals)]
        kind = draw(st.sampled_from(kinds))  # flatten/branch are always possible
        op = draw(st.sampled_from(_candidates(kind, vals)))
        if kind == "linear":
            op = ("linear", op[1], op[2], draw(st.integers(2, 5)))
        elif kind == "branch":  # around the example: k >= size takes the first branch
            size = vals[op[1]][0]
            op = ("branch", op[1], draw(st.integers(size - 2, size + 1)))
        out = op_shape(op, vals)
        assert out is not None
        program.append(op)
        vals.append(out)
    return program


# ----------------------------------------------------------------------------------------------
# Drawing specs
# ----------------------------------------------------------------------------------------------


@dataclass
class Root:
    name: str
    value: int  # its value on the example inputs
    min: int | None
    max: int | None

    def admits(self, v: int) -> bool:
        return v >= (self.min if self.min is not None else 0) and (self.max is None or v <= self.max)


@dataclass
class SpecPlan:
    """Per input, per axis: ("int", v) | ("dim", root) | ("der", root, a, b)  (= a*root + b)."""

    shapes: list[Shape]
    entries: list[list[tuple]] = field(default_factory=list)
    roots: dict[str, Root] = field(default_factory=dict)

    def paths(self) -> list[tuple[str, int, tuple]]:
        return [(f"{INPUT_NAMES[i]}.shape[{ax}]", self.shapes[i][ax], e)
                for i, row in enumerate(self.entries) for ax, e in enumerate(row)]

    def to_torch(self) -> dict[str, tuple]:
        dims: dict[str, Any] = {}
        for r in self.roots.values():
            kw = {k: v for k, v in (("min", r.min), ("max", r.max)) if v is not None}
            dims[r.name] = Dim(r.name, **kw)
        out = {}
        for i, row in enumerate(self.entries):
            axes = []
            for e in row:
                if e[0] == "int":
                    axes.append(e[1])
                elif e[0] == "dim":
                    axes.append(dims[e[1]])
                else:
                    _, name, a, b = e
                    expr = dims[name] if a == 1 else a * dims[name]
                    axes.append(expr + b if b else expr)
            out[INPUT_NAMES[i]] = tuple(axes)
        return out

    def source(self) -> str:
        """The spec as Python source (for bug reports)."""
        lines = []
        for r in self.roots.values():
            kw = "".join(f", {k}={v}" for k, v in (("min", r.min), ("max", r.max)) if v is not None)
            lines.append(f'{r.name} = Dim("{r.name}"{kw})')

        def one(e: tuple) -> str:
            if e[0] == "int":
                return str(e[1])
            if e[0] == "dim":
                return e[1]
            _, name, a, b = e
            return (f"{a}*{name}" if a != 1 else name) + (f" + {b}" if b else "")

        body = ", ".join(f'"{INPUT_NAMES[i]}": ({", ".join(one(e) for e in row)},)'
                         for i, row in enumerate(self.entries))
        return "\n".join(lines + [f"dynamic_shapes = {{{body}}}"])

    def root_values(self, sizes: dict[str, int]) -> dict[str, int] | None:
        """Root values read off a (partial) size assignment; None if two axes disagree."""
        roots: dict[str, int] = {}
        for path, _, e in self.paths():
            if path not in sizes or e[0] not in ("dim", "der"):
                continue
            a, b = (1, 0) if e[0] == "dim" else (e[2], e[3])
            v = sizes[path] - b
            if v % a:
                return None
            if roots.setdefault(e[1], v // a) != v // a:
                return None
        return roots

    def sizes_for(self, roots: dict[str, int]) -> list[Shape]:
        """Input shapes with the given root values (other roots at their example value)."""
        vals = {n: roots.get(n, r.value) for n, r in self.roots.items()}
        out = []
        for row in self.entries:
            shape = []
            for e in row:
                if e[0] == "int":
                    shape.append(e[1])
                elif e[0] == "dim":
                    shape.append(vals[e[1]])
                else:
                    shape.append(e[2] * vals[e[1]] + e[3])
            out.append(tuple(shape))
        return out

    def admitted(self, partial: dict[str, int]) -> list[Shape] | None:
        """The full input shapes ``partial`` (sizes by path, dimsolve's counterexample vocabulary)
        completes to, taking unmentioned roots from the examples; None if the spec does not admit it."""
        known = {p for p, _, _ in self.paths()}
        if not set(partial) <= known:
            return None
        roots = self.root_values(partial)
        if roots is None or not all(self.roots[n].admits(v) for n, v in roots.items()):
            return None
        shapes = self.sizes_for(roots)
        for path, _, _ in self.paths():
            i, ax = int(path[1]), int(path.split("[")[1][:-1])
            if path in partial and partial[path] != shapes[i][ax]:
                return None
        return shapes


@st.composite
def bounds(draw: Any, value: int) -> tuple[int | None, int | None]:
    lo = draw(st.one_of(st.none(), st.integers(2, value), st.integers(0, value)))
    hi = draw(st.one_of(st.none(), st.integers(value, value + 6)))
    if lo is not None and hi is not None and hi <= lo:  # torch's Dim needs min < max
        hi = lo + 1
    return lo, hi


SPEC_KINDS = ["dim", "dim", "dim", "derived", "int"]  # the mix of axis kinds (exploratory runs may change it)


@st.composite
def specs(draw: Any, shapes: list[Shape]) -> SpecPlan:
    """For each axis: a named Dim (shared with an earlier axis of the same example size, or new), a derived
    dim ``root + k`` / ``2*root`` consistent with the example, or the example size as an int."""
    plan = SpecPlan(shapes)

    def new_root(value: int) -> str:
        name = f"d{len(plan.roots)}"
        lo, hi = draw(bounds(value))
        plan.roots[name] = Root(name, value, lo, hi)
        return name

    for shape in shapes:
        row = []
        for v in shape:
            kind = draw(st.sampled_from(SPEC_KINDS))
            if kind == "int":
                row.append(("int", v))
            elif kind == "dim":
                same = [r.name for r in plan.roots.values() if r.value == v]
                choice = draw(st.sampled_from(same + [None])) if same else None
                row.append(("dim", choice if choice is not None else new_root(v)))
            else:
                forms = []  # (root name or None for a new root, root value, a, b)
                for k in (1, 2, 3):
                    if v - k >= 2:
                        forms.append((None, v - k, 1, k))
                        forms += [(r.name, r.value, 1, k) for r in plan.roots.values() if r.value == v - k]
                if v % 2 == 0 and v // 2 >= 2:
                    forms.append((None, v // 2, 2, 0))
                    forms += [(r.name, r.value, 2, 0) for r in plan.roots.values() if r.value == v // 2]
                if not forms:  # v == 2 and no root fits: fall back to a plain Dim
                    row.append(("dim", new_root(v)))
                    continue
                name, rv, a, b = draw(st.sampled_from(forms))
                row.append(("der", name if name is not None else new_root(rv), a, b))
        plan.entries.append(row)
    return plan


@dataclass
class GenCase:
    program: list[Op]
    plan: SpecPlan

    @property
    def n_inputs(self) -> int:
        return len(self.plan.shapes)

    def build(self) -> tuple[ProgramModel, tuple[torch.Tensor, ...], dict[str, tuple]]:
        return make_model(self.program, self.n_inputs), make_inputs(self.plan.shapes), self.plan.to_torch()

    def describe(self) -> str:
        shapes = ", ".join(f"torch.randn{s}" if len(s) > 1 else f"torch.randn({s[0]})" for s in self.plan.shapes)
        return (f"{program_source(self.program, self.n_inputs)}\n\nargs = ({shapes},)\n{self.plan.source()}\n"
                f"# program = {self.program!r}")


@st.composite
def gen_cases(draw: Any) -> GenCase:
    shapes = draw(input_shapes())
    program = draw(programs(shapes))
    plan = draw(specs(shapes))
    return GenCase(program, plan)
