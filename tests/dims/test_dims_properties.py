"""Properties: parse_spec never raises on malformed specs, and every spec it accepts round-trips."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from dims_helpers import normal_form, t
from torch.export import Dim

from dimsolve.dims import parse_spec, render_python, to_torch


def forward(x, y, xs, d, n=3, f=None):
    return None


ARGS = (t(4, 3), t(5), [t(4), t(2, 2)], {"a": t(4), "b": t(7)}, 3)

da = Dim("da", min=2, max=10)
db = Dim("db")
DIMS = [da, db, da + 1, 2 * da, 2 * db + 1, Dim("da", max=5), Dim.AUTO, Dim.DYNAMIC, Dim.STATIC, Dim.AUTO(min=3)]

leaves = st.one_of(
    st.none(),
    st.integers(-3, 12),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.sampled_from(DIMS),
)
keys = st.one_of(st.sampled_from(["x", "y", "xs", "d", "n", "f", "a", "b"]), st.integers(-3, 4), st.text(max_size=2))
specs = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=20,
)

# specs close to valid ones reach the deeper checks (ranges, derived forms, examples) more often
tensor_specs = st.one_of(st.none(), st.tuples(st.sampled_from(DIMS + [None, 4]), st.sampled_from(DIMS + [None, 3])))
near_valid = st.fixed_dictionaries(
    {
        "x": tensor_specs,
        "y": st.one_of(st.none(), st.tuples(st.sampled_from(DIMS + [None, 5]))),
        "xs": st.lists(st.one_of(st.none(), st.tuples(st.sampled_from(DIMS + [None]))), min_size=2, max_size=2),
        "d": st.fixed_dictionaries({"a": st.one_of(st.none(), st.tuples(st.sampled_from(DIMS))), "b": st.none()}),
        "n": st.sampled_from([None, Dim.AUTO, da]),
    }
)


def _check(spec):
    result = parse_spec(forward, ARGS, None, spec)
    if result.spec is None:
        assert result.diagnostics
        # DS1xx only: a Dim.DYNAMIC/AUTO range that excludes its own example is DS105, as for a named Dim
        assert all(d.code.startswith("DS1") and d.paths and d.help for d in result.diagnostics)
        return
    assert result.diagnostics == ()
    namespace: dict = {}
    exec(render_python(result.spec), namespace)
    for again in (namespace["dynamic_shapes"], to_torch(result.spec)):
        reparsed = parse_spec(forward, ARGS, None, again)
        assert reparsed.diagnostics == ()
        assert normal_form(reparsed.spec) == normal_form(result.spec)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_malformed_specs_never_raise(spec):
    _check(spec)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid)
def test_near_valid_specs_parse_or_explain(spec):
    _check(spec)
