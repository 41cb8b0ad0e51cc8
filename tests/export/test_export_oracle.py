"""torch.export is the oracle (issue #8): every check starts with torch.export of the user's spec and every
fix dimsolve prints is one torch.export accepts in one round; "verified" is printed only when torch did.

Every test first re-asserts the torch behaviour it is about (the premise, with real torch.export), then
asserts dimsolve's public API against torch again: the fixed spec is exported by torch, and the exported
program runs inputs the fixed spec admits. Models and specs: ``oracle_models.py``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import sympy
import torch
from export_support import admitted_sizes, exec_fix_code, inputs_of_sizes, spec_entries
from oracle_models import SAMPLES_MAX, SAMPLES_MIN, scenario
from torch.export import Dim
from torch.export.dynamic_shapes import _DerivedDim, _DimHint, _DimHintType

import dimsolve

pytestmark = pytest.mark.torch

HF = {"w2v_hf", "gpt2"}

# ----------------------------------------------------------------------------------------------
# torch, asked directly
# ----------------------------------------------------------------------------------------------


def _constraint_errors() -> tuple[type[BaseException], ...]:
    from torch.fx.experimental.symbolic_shapes import ConstraintViolationError

    return torch._dynamo.exc.UserError, ConstraintViolationError


def torch_rejects(model: Any, args: tuple, kwargs: dict, spec: Any) -> str:
    """torch.export raises a constraint violation for ``spec``; its message."""
    try:
        torch.export.export(model, tuple(args), dict(kwargs), dynamic_shapes=spec)
    except _constraint_errors() as exc:
        return str(exc)
    raise AssertionError(f"premise: torch.export was expected to reject {spec}, but it exported")


def try_export(model: Any, args: tuple, kwargs: dict, spec: Any) -> tuple[Any, str]:
    """(ExportedProgram, "") or (None, why): any exception is torch rejecting the spec here."""
    try:
        return torch.export.export(model, tuple(args), dict(kwargs), dynamic_shapes=spec), ""
    except Exception as exc:  # noqa: BLE001 - whatever torch raises, the fix did not export
        return None, f"{type(exc).__name__}: {exc}"


def fixed_examples(report: Any, args: tuple, kwargs: dict) -> list[tuple[tuple, dict]]:
    """The example inputs a fix may be exported with: the user's own, then ``report.fixed_example``
    (grown inputs for 0/1 examples; ``(args, kwargs)`` or an object with ``.args``/``.kwargs``)."""
    out = [(tuple(args), dict(kwargs))]
    grown = getattr(report, "fixed_example", None)
    if grown is not None:
        if isinstance(grown, tuple) and len(grown) == 2:
            out.append((tuple(grown[0]), dict(grown[1] or {})))
        else:
            out.append((tuple(grown.args), dict(grown.kwargs or {})))
    return out


_REPORTS: dict[str, Any] = {}
_FIX_EXPORTS: dict[str, tuple[Any, tuple[tuple, dict] | None, str]] = {}


def report_of(name: str) -> Any:
    """dimsolve's report on a scenario, computed once per session (tracing is the slow part)."""
    if name in HF:
        pytest.importorskip("transformers")
    if name not in _REPORTS:
        sc = scenario(name)
        _REPORTS[name] = dimsolve.check_dynamic_shapes(sc.model, sc.args, sc.kwargs, dynamic_shapes=sc.spec)
    return _REPORTS[name]


def export_fix(name: str) -> tuple[Any, tuple[tuple, dict] | None, str]:
    """torch.export of the report's fixed spec, in one round, with the user's example inputs or else with
    ``report.fixed_example``: (ExportedProgram, the inputs used, "") or (None, None, torch's objections)."""
    if name not in _FIX_EXPORTS:
        sc, report = scenario(name), report_of(name)
        fixed = report.fixed_dynamic_shapes
        if fixed is None:
            _FIX_EXPORTS[name] = (None, None, "no fix offered")
        else:
            why = []
            for args, kwargs in fixed_examples(report, sc.args, sc.kwargs):
                ep, err = try_export(sc.model, args, kwargs, fixed)
                if ep is not None:
                    _FIX_EXPORTS[name] = (ep, (args, kwargs), "")
                    break
                why.append(err)
            else:
                _FIX_EXPORTS[name] = (None, None, "\n".join(why))
    return _FIX_EXPORTS[name]


# ----------------------------------------------------------------------------------------------
# Reading specs and programs
# ----------------------------------------------------------------------------------------------


def entry_at(model: Any, args: tuple, kwargs: dict, spec: Any, path: str) -> Any:
    """The spec's entry for ``x.shape[1]``-style ``path`` (int, None, Dim, derived Dim or DimHint)."""
    for e in spec_entries(model, args, kwargs, spec):
        if e.path == path:
            return e.spec
    raise AssertionError(f"{path} not in the spec {spec}")


def is_dynamic(entry: Any) -> bool:
    return isinstance(entry, (Dim, _DerivedDim, _DimHint))


def root_name(entry: Any) -> str | None:
    if isinstance(entry, _DimHint):
        return None
    if isinstance(entry, _DerivedDim):
        return entry.root.__name__
    if isinstance(entry, Dim):
        return entry.__name__
    return None


def describe(spec: Any) -> Any:
    """A comparable rendering of a torch spec (Dim objects compare by identity)."""
    if isinstance(spec, dict):
        return {k: describe(v) for k, v in spec.items()}
    if isinstance(spec, (tuple, list)):
        return [describe(v) for v in spec]
    if isinstance(spec, _DimHint):
        return ("hint", spec.type.name, spec.min, spec.max)
    if isinstance(spec, _DerivedDim):
        b = int(spec.fn(0))
        return ("derived", spec.root.__name__, str(spec.root.min), str(spec.root.max), int(spec.fn(1)) - b, b)
    if isinstance(spec, Dim):
        return ("dim", spec.__name__, str(spec.min), str(spec.max))
    return spec


def assert_fix_code_is_the_fixed_spec(report: Any) -> None:
    """The printed ``fix_code`` defines the same spec as ``fixed_dynamic_shapes``."""
    assert report.fix_code, f"no fix code:\n{report}"
    assert describe(exec_fix_code(report.fix_code)) == describe(report.fixed_dynamic_shapes), report.fix_code


def _bound(x: Any) -> float:
    """A Dim/range bound as a number: torch spells unbounded ``int_oo`` (sympy) or None."""
    if x is None or str(x) in ("int_oo", "oo", "-int_oo", "-oo"):
        return -math.inf if str(x).startswith("-") else math.inf
    return int(x)


def _user_input_nodes(ep: Any) -> list[Any]:
    names = set(ep.graph_signature.user_inputs)
    return [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in names]


def size_range(ep: Any, name: str, axis: int) -> tuple[float, float]:
    """The range the exported program accepts for ``name.shape[axis]``."""
    node = next(n for n in _user_input_nodes(ep) if n.name == name)
    size = node.meta["val"].shape[axis]
    if isinstance(size, int):
        return size, size
    vr = ep.range_constraints[size.node.expr]
    return _bound(vr.lower), _bound(vr.upper)


def canonical_ranges(ep: Any) -> dict[str, tuple[str, str]]:
    """``ep.range_constraints`` with torch's symbol names replaced by the input dims they stand for."""
    names: dict[sympy.Symbol, sympy.Symbol] = {}
    for node in _user_input_nodes(ep):
        for axis, size in enumerate(getattr(node.meta.get("val"), "shape", ())):
            if isinstance(size, torch.SymInt):
                expr = size.node.expr
                for sym in sorted(expr.free_symbols, key=str):
                    label = f"{node.name}_{axis}" if expr == sym else f"root_of_{node.name}_{axis}"
                    names.setdefault(sym, sympy.Symbol(label))
    return {str(sympy.sympify(k).xreplace(names)): (str(v.lower), str(v.upper))
            for k, v in ep.range_constraints.items()}


def admitted_shapes(model: Any, args: tuple, kwargs: dict, spec: Any) -> list[dict[str, int]]:
    """A few input shapes (sizes by path) the spec admits: each root Dim at its min, min+1, example, example+1,
    example+3 and max (sizes >= 2 only), the others at their example."""
    entries = list(spec_entries(model, args, kwargs, spec))
    by_root: dict[str, list[Any]] = {}
    for e in entries:
        name = root_name(e.spec)
        if name is not None:
            by_root.setdefault(name, []).append(e)
    shapes: list[dict[str, int]] = []
    for users in by_root.values():
        first = users[0]
        root = first.spec.root if isinstance(first.spec, _DerivedDim) else first.spec
        a, b = (int(first.spec.fn(1)) - int(first.spec.fn(0)), int(first.spec.fn(0))) \
            if isinstance(first.spec, _DerivedDim) else (1, 0)
        example = (first.example - b) // a
        lo = _bound(root.min)
        hi = _bound(root.max)
        candidates = {lo, lo + 1, example, example + 1, example + 3, hi}
        for r in sorted(c for c in candidates if math.isfinite(c) and lo <= c <= hi):
            size = a * int(r) + b
            if size < 2:
                continue
            sizes = admitted_sizes(model, args, kwargs, spec, {first.path: size})
            if sizes is not None and sizes not in shapes:
                shapes.append(sizes)
    return shapes


def assert_admitted_inputs_run(ep: Any, model: Any, args: tuple, kwargs: dict, spec: Any) -> None:
    """Inputs the fixed spec admits run in eager (the model takes them) and in the exported program
    (no silent narrowing: torch exported a program that rejects what the fix promises)."""
    shapes = admitted_shapes(model, args, kwargs, spec)
    assert shapes, f"the fixed spec {spec} admits no shape to try"
    for sizes in shapes:
        new_args, new_kwargs = inputs_of_sizes(model, args, kwargs, sizes)
        with torch.no_grad():
            model(*new_args, **new_kwargs)  # the fix admits only sizes the model supports
            try:
                ep.module()(*new_args, **new_kwargs)
            except Exception as exc:  # noqa: BLE001 - torch raises different errors for different guards
                raise AssertionError(f"the exported program of the fix {spec} rejects the admitted sizes "
                                     f"{sizes}: {exc}") from exc


# ----------------------------------------------------------------------------------------------
# "verified": one source of truth
# ----------------------------------------------------------------------------------------------

_NEGATED = re.compile(r"unverified|not all verified|not verified", re.IGNORECASE)


def says_verified(text: str) -> bool:
    """``text`` calls something verified (``unverified`` / ``not all verified`` do not count)."""
    return "verified" in _NEGATED.sub("", text).lower()


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, (list, tuple)):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _verified_flags(node: Any) -> list[bool]:
    """Boolean values under keys that mention "verified" (``{"fix_verified": true}``)."""
    if isinstance(node, dict):
        own = [v for k, v in node.items() if "verified" in str(k).lower() and isinstance(v, bool)]
        return own + [f for v in node.values() for f in _verified_flags(v)]
    if isinstance(node, (list, tuple)):
        return [f for v in node for f in _verified_flags(v)]
    return []


def assert_verified_only_if_torch_exported(name: str) -> None:
    """str(report) and report.to_dict() say "verified" exactly when ``fix_verified``, and
    ``fix_verified`` exactly when torch.export accepts the fixed spec."""
    report = report_of(name)
    text, data = str(report), report.to_dict()
    if not report.fix_verified:
        assert not says_verified(text), f"fix_verified is False but the text says verified:\n{text}"
        said = [s for s in _strings(data) if says_verified(s)]
        assert not said, f"fix_verified is False but to_dict() says {said}"
        assert not any(_verified_flags(data)), f"fix_verified is False but to_dict() has a true flag: {data}"
        if report.fix_code:
            assert "not all verified" in text or "unverified" in text, (
                f"an unverified fix is shown without saying so:\n{text}")
        return
    assert report.fixed_dynamic_shapes is not None, f"fix_verified without a fix:\n{text}"
    ep, _, why = export_fix(name)
    assert ep is not None, f"fix_verified, but torch.export rejects the fixed spec: {why}\n{text}"
    assert says_verified(text) and not _NEGATED.search(text), (
        f"fix_verified is True but the text does not say verified:\n{text}")
    unsaid = [s for s in _strings(data) if _NEGATED.search(s)]
    assert not unsaid, f"fix_verified is True but to_dict() says {unsaid}"


def assert_one_round(name: str) -> Any:
    """The printed fix exports with torch in one round (user's example or ``fixed_example``), and
    "verified" is printed only because it does. Returns (ep, inputs used)."""
    report = report_of(name)
    ep, used, why = export_fix(name)
    if ep is None:  # say first whether dimsolve claimed otherwise
        assert not says_verified(str(report)), f"dimsolve prints verified, torch rejects the fix: {why}\n{report}"
    assert ep is not None, f"torch.export rejects the printed fix {report.fixed_dynamic_shapes}: {why}\n{report}"
    assert_fix_code_is_the_fixed_spec(report)
    assert report.fix_verified, f"torch exports the fix but dimsolve does not call it verified:\n{report}"
    return ep, used


# ----------------------------------------------------------------------------------------------
# 1. "ok, but torch raises": a guard that holds everywhere, that torch cannot prove (DS503)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["w2v_plain", "w2v_hf"])
def test_true_but_unprovable_guard_is_ds503_and_the_fix_keeps_the_range(name: str) -> None:
    if name in HF:
        pytest.importorskip("transformers")
    sc = scenario(name)
    message = torch_rejects(sc.model, sc.args, sc.kwargs, sc.spec)
    assert "Not all values of samples" in message and "samples = 10*_samples" in message, message

    report = report_of(name)
    codes = [v.code for v in report.violations]
    assert not report.ok and codes and set(codes) == {"DS503"}, str(report)

    fixed = report.fixed_dynamic_shapes
    assert fixed is not None, str(report)
    samples = entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[1]")
    assert isinstance(samples, _DimHint) and samples.type in (_DimHintType.AUTO, _DimHintType.DYNAMIC), (
        f"the fix must leave samples to Dim.AUTO/Dim.DYNAMIC, not {samples}:\n{report.fix_code}")
    if samples.min is not None:
        assert samples.min <= SAMPLES_MIN, samples
    if samples.max is not None:
        assert samples.max >= SAMPLES_MAX, samples
    assert "10*" not in report.fix_code and "_samples" not in report.fix_code, report.fix_code
    assert entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[0]") in (None, 2), fixed  # batch untouched

    assert report.fix_verified, str(report)
    ep, _, why = export_fix(name)  # with the user's example: nothing here is 0/1
    assert ep is not None, f"torch.export rejects the fix {fixed}: {why}"
    assert_fix_code_is_the_fixed_spec(report)
    lo, hi = size_range(ep, "x", 1)
    assert lo <= SAMPLES_MIN and hi >= SAMPLES_MAX, (lo, hi)
    with torch.no_grad():
        for n in (SAMPLES_MIN, SAMPLES_MIN + 1, 12345, SAMPLES_MAX):  # no multiple-of-10 narrowing
            assert ep.module()(torch.randn(2, n)).shape[0] == 2


# ----------------------------------------------------------------------------------------------
# 2. / 4. a fix that changes the code path: torch's new guards must reach the fix
# ----------------------------------------------------------------------------------------------


def _first_candidate(name: str) -> Any:
    """The fix the all-dynamic trace alone suggests (feat = 4, nothing else)."""
    if name == "static_view":
        return {"x": (Dim("batch"), 4)}
    return {"x": (Dim("batch"), 4), "z": (Dim("n"), 3)}


def test_a_static_dim_in_the_fix_takes_another_branch_and_the_printed_fix_still_exports() -> None:
    sc = scenario("static_view")
    assert "feat = 4" in torch_rejects(sc.model, sc.args, sc.kwargs, sc.spec)
    # with x.shape[1] static, `y.view(-1, 2)` runs and needs an even batch: torch rejects feat = 4 alone
    message = torch_rejects(sc.model, sc.args, sc.kwargs, _first_candidate("static_view"))
    assert "Not all values of batch" in message, message

    report = report_of("static_view")
    assert not report.ok, str(report)
    ep, used = assert_one_round("static_view")
    fixed = report.fixed_dynamic_shapes
    assert entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[1]") == 4, report.fix_code
    assert is_dynamic(entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[0]")), (
        f"the batch must stay dynamic:\n{report.fix_code}")
    assert_admitted_inputs_run(ep, sc.model, *used, fixed)


def test_a_fix_that_needs_two_rounds_exports_in_one() -> None:
    sc = scenario("static_add")
    assert "feat = 4" in torch_rejects(sc.model, sc.args, sc.kwargs, sc.spec)
    # round 1's candidate takes the `y + z` branch: torch ties z.shape[0] to batch and rejects it
    message = torch_rejects(sc.model, sc.args, sc.kwargs, _first_candidate("static_add"))
    assert "must always be equal" in message, message

    report = report_of("static_add")
    assert not report.ok, str(report)
    ep, used = assert_one_round("static_add")
    fixed = report.fixed_dynamic_shapes
    assert entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[1]") == 4, report.fix_code
    batch = entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[0]")
    n = entry_at(sc.model, sc.args, sc.kwargs, fixed, "z.shape[0]")
    assert is_dynamic(batch) and is_dynamic(n), f"both batches must stay dynamic:\n{report.fix_code}"
    if root_name(batch) is not None and root_name(n) is not None:
        assert describe(batch) == describe(n), f"z.shape[0] must be x.shape[0]:\n{report.fix_code}"
    assert_admitted_inputs_run(ep, sc.model, *used, fixed)


@pytest.mark.parametrize("name", ["static_view", "static_add"])
def test_the_first_candidate_as_a_users_spec_is_not_called_ok(name: str) -> None:
    """The all-dynamic trace finds nothing wrong with it; torch.export of the spec itself does."""
    sc = scenario(name)
    spec = _first_candidate(name)
    torch_rejects(sc.model, sc.args, sc.kwargs, spec)
    report = dimsolve.check_dynamic_shapes(sc.model, sc.args, sc.kwargs, dynamic_shapes=spec)
    assert not report.ok, f"torch.export rejects {spec}, dimsolve calls it ok:\n{report}"
    fixed = report.fixed_dynamic_shapes
    assert fixed is not None, str(report)
    ep, err = try_export(sc.model, sc.args, sc.kwargs, fixed)
    assert ep is not None or not says_verified(str(report)), f"printed as verified, torch rejects it: {err}"
    assert ep is not None, f"torch.export rejects the fix {fixed}: {err}\n{report}"


# ----------------------------------------------------------------------------------------------
# 3. 0/1 example plus other findings
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pool_check_b1", "pool_flat_b1"])
def test_batch_one_example_with_a_too_wide_range(name: str) -> None:
    sc = scenario(name)
    message = torch_rejects(sc.model, sc.args, sc.kwargs, sc.spec)
    assert "batch = 1" in message, message  # torch's own fix gives up the dynamic batch
    if name == "pool_flat_b1":  # with a batch of 2 torch exports [4, 64] although the Linear pins H*W
        grown = (torch.randn(2, 3, 8, 8),)
        ep = torch.export.export(sc.model, grown, dynamic_shapes=sc.spec)
        with pytest.raises(AssertionError, match="Guard failed"):  # H = W = 16 is admitted, then rejected
            ep.module()(torch.randn(2, 3, 16, 16))
    else:
        assert "Not all values of H" in message and "Not all values of W" in message, message

    report = report_of(name)
    codes = [v.code for v in report.violations]
    assert not report.ok and "DS403" in codes, str(report)
    others = {p for v in report.violations if v.code != "DS403" for p in v.paths}
    assert {'dynamic_shapes["x"][2]', 'dynamic_shapes["x"][3]'} <= others, (
        f"the H/W findings must be reported with the 0/1 one:\n{report}")

    ep, used = assert_one_round(name)
    fixed = report.fixed_dynamic_shapes
    batch = entry_at(sc.model, sc.args, sc.kwargs, fixed, "x.shape[0]")
    assert is_dynamic(batch), f"the fix must keep the batch dynamic, not {batch}:\n{report.fix_code}"
    lo, hi = size_range(ep, "x", 0)
    assert lo <= 2 and hi >= 3, f"the exported program specialised the batch: [{lo}, {hi}]"
    assert_admitted_inputs_run(ep, sc.model, *used, fixed)


# ----------------------------------------------------------------------------------------------
# 5. one source of truth for "verified"
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["w2v_plain", "w2v_hf", "static_view", "static_add", "pool_check_b1",
                                  "pool_flat_b1"])
def test_verified_is_printed_exactly_when_torch_exported_the_fix(name: str) -> None:
    report = report_of(name)
    assert not report.ok, str(report)
    assert_verified_only_if_torch_exported(name)


# ----------------------------------------------------------------------------------------------
# 6. valid specs: dimsolve.export hands back torch's own program
# ----------------------------------------------------------------------------------------------


def _other_input(name: str) -> tuple:
    return {
        "gpt2": (torch.randint(0, 100, (3, 17)),),
        "pool_check_valid": (torch.randn(3, 3, 33, 5),),
        "static_view_valid": (torch.randn(10, 4),),
        "w2v_plain_dynamic": (torch.randn(2, 4321),),
    }[name]


@pytest.mark.parametrize("name", ["gpt2", "pool_check_valid", "static_view_valid", "w2v_plain_dynamic"])
def test_export_of_a_valid_spec_is_torchs_program(name: str) -> None:
    if name in HF:
        pytest.importorskip("transformers")
    sc = scenario(name)
    theirs = torch.export.export(sc.model, sc.args, sc.kwargs, dynamic_shapes=sc.spec)  # torch exports it
    ours = dimsolve.export(sc.model, sc.args, sc.kwargs, dynamic_shapes=sc.spec)
    assert isinstance(ours, torch.export.ExportedProgram)
    assert canonical_ranges(ours) == canonical_ranges(theirs)
    other = _other_input(name)
    with torch.no_grad():
        torch.testing.assert_close(ours.module()(*other), theirs.module()(*other))
