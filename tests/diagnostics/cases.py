"""A fixed set of hand-built diagnostics, one per rendering feature, shared by the snapshot tests."""

from dimsolve.diagnostics.model import (
    AddCheck,
    Applicability,
    Diagnostic,
    Fix,
    Label,
    MakeAuto,
    NewRoot,
    Relate,
    SetRange,
    Severity,
    SourceLocation,
    Specialize,
)

SPEC_LINE = "x: (dx, d1)  y: (dy, d1)"

DS201 = Diagnostic(
    code="DS201",
    severity=Severity.ERROR,
    message="y.shape[0] must equal x.shape[0]",
    paths=('dynamic_shapes["y"][0]', 'dynamic_shapes["x"][0]'),
    labels=(Label(SourceLocation("model.py", 12, "forward", "        w = x + y")),),
    fixes=(Fix("make dy equal to dx", (Relate("dy", "dx"),)),),
    facts={
        "spec": SPEC_LINE,
        "guard": "x.shape[0] == y.shape[0]",
        "counterexample": {"y.shape[0]": 3, "x.shape[0]": 2},
    },
)

DS401 = Diagnostic(
    code="DS401",
    severity=Severity.ERROR,
    message="d1 must be 4: the model only works for one size",
    paths=('dynamic_shapes["x"][1]', 'dynamic_shapes["y"][1]'),
    labels=(
        Label(
            SourceLocation("model.py", 13, "forward", "        return w + torch.ones(4)", "torch/_refs/__init__.py:412"),
            "broadcast with a tensor of size 4",
        ),
    ),
    fixes=(Fix("make d1 static", (Specialize("d1", 4),)),),
    facts={"spec": SPEC_LINE, "guard": "x.shape[1] == 4", "counterexample": {"x.shape[1]": 5, "y.shape[1]": 5}},
)

DS301 = Diagnostic(
    code="DS301",
    severity=Severity.ERROR,
    message="seq admits sizes up to 1024 but the model supports at most 512",
    paths=('dynamic_shapes["x"][1]',),
    labels=(
        Label(SourceLocation("models/pos.py", 27, "forward", "return x + self.pos[: x.shape[1]]"), "positional table has 512 rows"),
        Label(SourceLocation("models/pos.py", 31, "forward", "h = self.norm(h)", "torch/nn/functional.py:2910")),
    ),
    notes=("the guard comes from slicing a parameter of 512 rows", "a second note\nthat spans two lines"),
    help=("narrow the range of seq",),
    fixes=(Fix("narrow seq", (SetRange("seq", 2, 512),)),),
    facts={"guard": "x.shape[1] <= 512", "counterexample": {"x.shape[1]": 513}},
)

DS501 = Diagnostic(
    code="DS501",
    severity=Severity.ERROR,
    message="x.shape[0] must be a multiple of 8",
    paths=('dynamic_shapes["x"][0]',),
    labels=(Label(SourceLocation("model.py", 7, "forward", "return x.reshape(-1, 8).sum(dim=1)")),),
    fixes=(Fix("make n a multiple of 8", (NewRoot("_n", 2, 128), Relate("n", "_n", coeff=8))),),
    facts={"guard": "x.shape[0] % 8 == 0", "counterexample": {"x.shape[0]": 17}},
)

DS203 = Diagnostic(
    code="DS203",
    severity=Severity.ERROR,
    message="y.shape[0] must equal (x.shape[0] + 1) // 2, which a Dim cannot express",
    paths=('dynamic_shapes["y"][0]',),
    labels=(Label(SourceLocation("model.py", 5, "forward", "return x[::2] + y")),),
    fixes=(Fix("let torch infer y.shape[0]", (MakeAuto("y.shape[0]"),)),),
    facts={"guard": "(x.shape[0] + 1) // 2 == y.shape[0]", "counterexample": {"x.shape[0]": 9, "y.shape[0]": 3}},
)

DS403 = Diagnostic(
    code="DS403",
    severity=Severity.ERROR,
    message="the example size 1 of x.shape[0] makes torch specialise batch",
    paths=('dynamic_shapes["x"][0]',),
    help=("use an example input with x.shape[0] >= 2, e.g. torch.randn(2, 16)",),
)

DS601 = Diagnostic(
    code="DS601",
    severity=Severity.ERROR,
    message="tracing needs to know whether k > x.shape[0], which depends on data",
    labels=(Label(SourceLocation("model.py", 9, "forward", "if k > x.shape[0]:")),),
    fixes=(
        Fix(
            "decide the branch",
            (AddCheck("k <= x.shape[0]", SourceLocation("model.py", 9, "forward")),),
            Applicability.UNVERIFIED,
        ),
    ),
)

DS602 = Diagnostic(
    code="DS602",
    severity=Severity.INFO,
    message="k <= x.shape[0] becomes a runtime assert",
    labels=(Label(SourceLocation("model.py", 8, "forward", "torch._check(k <= x.shape[0])")),),
)

CASES = {
    "ds201": DS201,
    "ds401": DS401,
    "ds301": DS301,
    "ds501": DS501,
    "ds203": DS203,
    "ds403": DS403,
    "ds601": DS601,
    "ds602": DS602,
}

TUTORIAL = [DS201, DS401]
TUTORIAL_FIX_CODE = 'dx = Dim("dx")\ndynamic_shapes = {"x": (dx, 4), "y": (dx, 4)}\n'

ALL = list(CASES.values())
