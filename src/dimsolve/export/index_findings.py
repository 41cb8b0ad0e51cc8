"""DS7xx: findings of dimsolve's own checks, worded for the user.

torch.export checks shapes; it does not check that an index stays inside the table it indexes. The
``INDEX_BOUND`` guards (``guards.index_bounds``) go through the same solver and fix synthesis as
torch's guards; this module gives the findings they own their code and words: DS701 when the bound
follows from the program alone, DS702 when it relies on the example's input values (stated as an
assumption). Every violation finding also says whose check it is (``facts["check"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import sympy

from dimsolve.diagnostics.model import Diagnostic, Label, SetRange, Severity, SpecChange
from dimsolve.export.terms import root_ref, user_expr
from dimsolve.guards.model import GuardKind, GuardRecord, GuardSet, IndexDetail, ValueRange
from dimsolve.solver.check import GuardViolation
from dimsolve.solver.problem import Problem

INDEX_CODES = ("DS701", "DS702")


def check_of(record: GuardRecord) -> str:
    """Whose check a guard is: torch's (a guard or a runtime assert it emitted) or dimsolve's own."""
    return "index_bound" if record.kind is GuardKind.INDEX_BOUND else f"torch_{record.kind.value}"


def assumption_text(values: tuple[ValueRange, ...]) -> str:
    """``attention_mask` holds only 0 and 1`` for the input values a bound relies on."""
    parts = []
    for v in values:
        held = "only 0 and 1" if (v.lower, v.upper) == (0, 1) else f"values in [{v.lower}, {v.upper}]"
        parts.append(f"`{v.input}` holds {held}")
    return " and ".join(parts)


def _size_text(detail: IndexDetail, guardset: GuardSet) -> str:
    size = user_expr(detail.size, guardset) if detail.size.free_symbols else str(detail.size)
    unit = "rows" if detail.op == "embedding" else "entries"
    return f"{size} {unit}"


def _subject(problem: Problem, change: SpecChange | None, record: GuardRecord) -> str:
    """The sizes that go out of range, from the fix: ``input_ids.shape[1] (`seq`) > 64``, else from
    the check itself: ``input_ids.shape[0] > attention_mask.shape[0]``."""
    if isinstance(change, SetRange):
        root = problem.spec.roots.get(change.target)
        ref = root_ref(problem.spec, change.target)
        if change.max is not None and (root is None or root.max is None or change.max < root.max):
            return f"{ref} > {change.max}"
        if root is None or change.min > root.min:
            return f"{ref} < {change.min}"
    if len(record.expr.free_symbols) > 1:
        return user_expr(sympy.Not(record.expr), problem.guardset)
    return "some sizes the spec admits"


def _message(problem: Problem, change: SpecChange | None, record: GuardRecord) -> str:
    detail = record.index
    assert detail is not None  # only INDEX_BOUND guards reach here
    where = "past the end" if isinstance(record.expr, sympy.LessThan) else "before the start"
    text = f"{_subject(problem, change, record)} indexes {where} of `{detail.table}` ({_size_text(detail, problem.guardset)})"
    assumed = detail.assumed
    if assumed:
        return f"if {assumption_text(assumed)}, as in the example, {text}"
    return text


def fails_at_example(record: GuardRecord, example: Mapping[str, int]) -> bool:
    """An index check the example inputs fail themselves: the model raises on its own example, and
    torch, which traces without indexing, exports it anyway. No spec admitting the example fixes it."""
    from dimsolve.solver.pyeval import compiled

    if record.kind is not GuardKind.INDEX_BOUND or not {s.name for s in record.expr.free_symbols} <= set(example):
        return False
    fn = compiled(record.expr)
    try:
        return fn is not None and not fn(example)
    except ZeroDivisionError:
        return False


def example_findings(problem: Problem) -> list[Diagnostic]:
    """DS701 for each index check the example inputs fail: whatever the spec, torch exports a program
    that raises on them. The fix is another example, not a spec change, so these findings carry none."""
    from dimsolve.export.terms import spec_summary

    example = problem.example()
    failing = [g for g in problem.guardset.guards if fails_at_example(g, example)]
    out: list[Diagnostic] = []
    for g in {g.expr: g for g in failing}.values():
        detail = g.index
        assert detail is not None  # only INDEX_BOUND guards fail here
        sizes = {user_expr(s, problem.guardset): example[s.name] for s in sorted(g.expr.free_symbols, key=str)}
        past = (isinstance(g.expr, sympy.LessThan) if g.expr.free_symbols
                else detail.upper is not None and bool(detail.upper >= detail.size))
        where = "past the end" if past else "before the start"
        inputs = f"the example inputs ({', '.join(f'{k} = {v}' for k, v in sizes.items())})" if sizes else \
            f"the index values (in [{detail.lower}, {detail.upper}], whatever the spec)"
        message = (f"{inputs} index {where} of `{detail.table}` ({_size_text(detail, problem.guardset)}): "
                   "the model raises on the example")
        paths = tuple(dict.fromkeys(e.spec_path for sym in sorted(g.expr.free_symbols, key=str)
                                    for e in problem.entries_of.get(sym.name, [])))
        out.append(Diagnostic(
            code="DS701", severity=Severity.ERROR, message=message, paths=paths, labels=_labels(problem, _same_checks(problem, [g])),
            help=("export with example inputs whose sizes keep the index inside the table, and a Dim range that "
                  "does too; torch traces without indexing, so it exports a program that raises on these inputs",),
            facts={"check": "index_bound", "guard": user_expr(g.expr, problem.guardset), "example": sizes,
                   "spec": spec_summary(problem.spec)}))
    return out


def _labels(problem: Problem, records: list[GuardRecord]) -> tuple[Label, ...]:
    """The lines that index, then the lines that build the index values (each once)."""
    gs = problem.guardset
    labels: list[Label] = []
    builders: list[Label] = []
    for r in records:
        d = r.index
        if d is None:
            continue
        if r.origin is not None and all(lb.location != r.origin for lb in labels):
            labels.append(Label(r.origin, f"{d.op} into `{d.table}` ({_size_text(d, gs)})"))
        if d.builder is not None and all(b.location != d.builder for b in builders):
            builders.append(Label(d.builder, f"the index values are built here{_span(d, gs)}"))
    return tuple(labels + builders)


def _same_checks(problem: Problem, records: list[GuardRecord]) -> list[GuardRecord]:
    """``records`` and every other index check with the same condition (the solver reports one
    per condition; RoBERTa's position ids index two tables)."""
    exprs = {r.expr for r in records}
    more = [g for g in problem.guardset.guards
            if g.kind is GuardKind.INDEX_BOUND and g.expr in exprs and g not in records]
    return records + more


def _span(detail: IndexDetail, guardset: GuardSet) -> str:
    lo = "-inf" if detail.lower is None else user_expr(detail.lower, guardset)
    hi = "inf" if detail.upper is None else user_expr(detail.upper, guardset)
    return f": they range over [{lo}, {hi}]"


def _help(records: list[GuardRecord]) -> tuple[str, ...]:
    assumed = sorted({v.input for r in records if r.index for v in r.index.assumed})
    sized_by_input = any(r.index is not None and getattr(r.index.size, "free_symbols", None) for r in records)
    # a table whose size is an input's dimension (a mask's batch axis): the sizes must agree, not grow
    out = (["make the sizes agree as the fix does: the table is an input, sized by the spec"] if sized_by_input
           else ["narrow the Dim as the fix does, or give the model a larger table"])
    if assumed:
        names = ", ".join(f'"{n}": (lo, hi)' for n in assumed)
        out.append(f"other values change the bound: state the range dimsolve should assume with "
                   f"check_dynamic_shapes(..., value_ranges={{{names}}})")
    return tuple(out)


def index_finding(problem: Problem, change: SpecChange | None, vs: list[GuardViolation], d: Diagnostic) -> Diagnostic:
    """``d`` as a DS701/DS702 finding when every guard it carries is an index bound; else ``d`` with
    ``facts["check"]`` saying whose checks it carries."""
    checks = sorted({check_of(v.guard) for v in vs})
    facts = dict(d.facts)
    if checks:
        facts["check"] = checks[0] if len(checks) == 1 else checks
    if not vs or checks != ["index_bound"]:
        return replace(d, facts=facts)
    records = [v.guard for v in vs]
    certain = any(r.index is not None and not r.index.assumed for r in records)
    lead = records[0]
    detail = lead.index
    assert detail is not None
    facts["index"] = {
        "op": detail.op, "table": detail.table, "size": str(detail.size),
        "values": [f"{user_expr(detail.lower, problem.guardset) if detail.lower is not None else '-inf'}",
                   f"{user_expr(detail.upper, problem.guardset) if detail.upper is not None else 'inf'}"],
        "assumed": [{"input": v.input, "min": v.lower, "max": v.upper} for v in detail.assumed],
    }
    message = _message(problem, change, lead)
    fixes = tuple(replace(f, title=message) for f in d.fixes)
    return replace(d, code="DS701" if certain else "DS702", severity=Severity.ERROR if certain else Severity.WARNING,
                   message=message, labels=_labels(problem, _same_checks(problem, records)), help=_help(records) + d.help, fixes=fixes,
                   notes=tuple(n for n in d.notes if not n.startswith("also required")), facts=facts)
