"""Vision models from tiny transformers configs (nothing downloaded): dimsolve against torch.export.

Issue #13: real vision architectures emit nested floor/mod guards (window padding), float guards
(``interpolate`` with a scale factor) and relations Dims cannot write. For each model, with the
spec a user writes first (``batch = Dim("batch", max=32)``, ``height``/``width`` in [32, 256]):

- torch: ``torch.export.export`` until its first error (or success), then torch's own loop
  (``refine_dynamic_shapes_from_suggested_fixes`` and export again, at most 4 rounds);
- dimsolve: ``check_dynamic_shapes`` on the same spec (its fix is exported by torch inside it);
  on a violated spec again with ``verify_fix=False`` (one export: the fix only proven by z3);
  what it says (codes), its fix, whether torch exported that fix;
- the valid spec (dimsolve's verified fix): ``torch.export.export`` and ``check_dynamic_shapes``.

One measurement per cell (the Swin traces take minutes), after an untimed static export of the
model (its first export pays torch's lazy setup, about a second here). Run:

    python -m bench.vision [--only swin,convnext] [--out bench/out/vision.json]
    python -m bench.vision --table bench/out/vision.json      # the markdown table again
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ROUNDS = 4


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    make: Callable[[], tuple[Any, tuple, Any]]  # model, args, the user's first spec


def _image_spec(name: str = "pixel_values") -> dict[str, Any]:
    from torch.export import Dim

    return {name: (Dim("batch", max=32), 3, Dim("height", min=32, max=256), Dim("width", min=32, max=256))}


class _Pixels:
    """``forward(pixel_values)`` returning one tensor (the HF models return dataclasses)."""

    def __init__(self, model: Any, **kwargs: Any) -> None:
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = model

            def forward(self, pixel_values):
                return self.inner(pixel_values=pixel_values, **kwargs).last_hidden_state

        self.module = Wrapped().eval()


def _hf(config_cls: str, model_cls: str, **config: Any) -> Callable[[], tuple[Any, tuple, Any]]:
    def make() -> tuple[Any, tuple, Any]:
        import torch
        import transformers

        torch.manual_seed(0)
        cfg = getattr(transformers, config_cls)(**config)
        model = getattr(transformers, model_cls)(cfg).eval()
        kwargs = {"interpolate_pos_encoding": True} if model_cls == "ViTModel" else {}
        return _Pixels(model, **kwargs).module, (torch.randn(2, 3, 32, 32),), _image_spec()
    return make


def _interpolate() -> tuple[Any, tuple, Any]:
    import torch
    import torch.nn.functional as F
    from torch.export import Dim

    class HalfAndBack(torch.nn.Module):
        def forward(self, x):
            return F.interpolate(F.interpolate(x, scale_factor=0.5), size=x.shape[-2:]) + x

    return HalfAndBack(), (torch.randn(2, 3, 32, 32),), {"x": (Dim("batch", max=32), 3, Dim("height", max=256),
                                                               Dim("width", max=256))}


CASES = [
    Case("swin", "SwinModel, patch 4, window 4, depths [1, 1], embed 8",
         _hf("SwinConfig", "SwinModel", image_size=32, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1],
             window_size=4, mlp_ratio=1.0)),
    Case("convnext", "ConvNextModel, 2 stages, hidden [8, 16]",
         _hf("ConvNextConfig", "ConvNextModel", num_stages=2, hidden_sizes=[8, 16], depths=[1, 1])),
    Case("regnet", "RegNetModel, 2 stages, hidden [8, 16]",
         _hf("RegNetConfig", "RegNetModel", embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8)),
    Case("resnet", "ResNetModel, 2 stages, hidden [8, 16]",
         _hf("ResNetConfig", "ResNetModel", embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])),
    Case("efficientnet", "EfficientNetModel, width 0.1, depth 0.1",
         _hf("EfficientNetConfig", "EfficientNetModel", image_size=32, width_coefficient=0.1, depth_coefficient=0.1,
             hidden_dim=128)),
    Case("mobilenet_v2", "MobileNetV2Model, depth multiplier 0.25",
         _hf("MobileNetV2Config", "MobileNetV2Model", image_size=32, depth_multiplier=0.25)),
    Case("vit", "ViTModel, patch 8, 1 layer, interpolate_pos_encoding",
         _hf("ViTConfig", "ViTModel", image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1,
             num_attention_heads=1, intermediate_size=16)),
    Case("interpolate", "F.interpolate(x, scale_factor=0.5), then back to x's size", _interpolate),
]


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any, BaseException | None]:
    start = time.perf_counter()
    try:
        out, err = fn(), None
    except Exception as exc:  # noqa: BLE001 - torch's refusal is a result
        out, err = None, exc
    return time.perf_counter() - start, out, err


def _torch_loop(model: Any, args: tuple, spec: Any) -> dict[str, Any]:
    import torch
    from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

    start, first = time.perf_counter(), None
    for rounds in range(MAX_ROUNDS + 1):
        seconds, _, err = _seconds(lambda: torch.export.export(model, args, dynamic_shapes=spec))
        first = seconds if first is None else first
        if err is None:
            return {"first_s": first, "loop_s": time.perf_counter() - start, "rounds": rounds, "exported": True,
                    "first_error": None if rounds == 0 else "constraint violation"}
        msg = getattr(err, "msg", None)
        try:
            refined = refine_dynamic_shapes_from_suggested_fixes(msg, spec) if isinstance(msg, str) else None
        except Exception as exc:  # noqa: BLE001
            refined, err = None, exc
        if refined is None or refined == spec or rounds == MAX_ROUNDS:
            return {"first_s": first, "loop_s": time.perf_counter() - start, "rounds": rounds, "exported": False,
                    "why": f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"}
        spec = refined
    raise AssertionError("unreachable")


def _dimsolve(model: Any, args: tuple, spec: Any, verify_fix: bool = True) -> dict[str, Any]:
    import dimsolve

    seconds, report, err = _seconds(lambda: dimsolve.check_dynamic_shapes(model, args, dynamic_shapes=spec,
                                                                          verify_fix=verify_fix))
    if err is not None:
        return {"s": seconds, "crashed": f"{type(err).__name__}: {err}"}
    return {"s": seconds, "ok": report.ok, "codes": sorted({d.code for d in report.diagnostics if d.is_error}),
            "fix": report.fix_code.split("dynamic_shapes = ")[-1].strip() if report.fix_code else None,
            "fix_verified": report.fix_verified, "rounds": len(report.rounds), "fixed": report.fixed_dynamic_shapes,
            "text": str(report)}


def run_case(case: Case) -> dict[str, Any]:
    import torch

    model, args, spec = case.make()
    _seconds(lambda: torch.export.export(model, args))  # warm-up: the model's first export pays torch's lazy setup
    row: dict[str, Any] = {"model": case.name, "what": case.what}
    row["torch"] = _torch_loop(model, args, spec)
    # the verdict and a proven fix without exporting the fix, timed first so that it gets no warmer
    # caches than the full check (kept only when the spec is violated)
    quick = _dimsolve(model, args, spec, verify_fix=False)
    found = _dimsolve(model, args, spec)
    fixed = found.pop("fixed", None)
    row["dimsolve"] = found
    if not found.get("ok", True):
        row["verdict_only"] = {"s": quick["s"], "same_fix": quick.get("fix") == found.get("fix")}
    if fixed is not None and found.get("fix_verified"):
        seconds, _, err = _seconds(lambda: torch.export.export(model, args, dynamic_shapes=fixed))
        valid = _dimsolve(model, args, fixed)
        valid.pop("fixed", None)
        row["valid"] = {"torch_s": seconds, "torch_exported": err is None, "dimsolve": valid}
    return row


def _x(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| model | torch.export (to first error) | torch's loop | dimsolve check | check / first error | "
           "check / loop | dimsolve says | fix exported by torch |",
           "|---|---:|---:|---:|---:|---:|---|:---:|"]
    for r in rows:
        t, d = r["torch"], r["dimsolve"]
        loop = f"{t['loop_s']:.1f} s ({t['rounds']} rounds, {'exported' if t['exported'] else 'gave up'})"
        says = "crashed" if "crashed" in d else ("valid" if d["ok"] else ", ".join(d["codes"]))
        fix = "–" if "crashed" in d or d["ok"] else ("yes" if d["fix_verified"] else "no")
        out.append(f"| {r['model']} | {t['first_s']:.1f} s | {loop} | {d['s']:.1f} s | {_x(d['s'], t['first_s'])} | "
                   f"{_x(d['s'], t['loop_s'])} | {says} | {fix} |")
    out += ["", "| model | torch.export (to first error) | check, fix not exported (`verify_fix=False`) | "
            "/ first error | same fix |", "|---|---:|---:|---:|:---:|"]
    for r in rows:
        q = r.get("verdict_only")
        if q is not None:
            out.append(f"| {r['model']} | {r['torch']['first_s']:.1f} s | {q['s']:.1f} s | "
                       f"{_x(q['s'], r['torch']['first_s'])} | {'yes' if q['same_fix'] else 'no'} |")
    out += ["", "| model | valid spec (dimsolve's fix) | torch.export | dimsolve check | check / torch |",
            "|---|---|---:|---:|---:|"]
    for r in rows:
        v = r.get("valid")
        if v is None:
            continue
        d = v["dimsolve"]
        out.append(f"| {r['model']} | `{r['dimsolve']['fix']}` | {v['torch_s']:.1f} s | {d['s']:.1f} s | "
                   f"{_x(d['s'], v['torch_s'])} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--out", default="bench/out/vision.json")
    parser.add_argument("--table", default="", help="print the table of a results json and exit")
    opts = parser.parse_args(argv)
    if opts.table:
        print(table(json.loads(Path(opts.table).read_text())))
        return 0
    import torch

    _seconds(lambda: torch.export.export(torch.nn.Linear(2, 2), (torch.randn(2, 2),)))  # warm-up
    wanted = set(filter(None, opts.only.split(",")))
    rows = []
    for case in CASES:
        if wanted and case.name not in wanted:
            continue
        try:
            rows.append(run_case(case))
        except Exception:  # noqa: BLE001 - one model failing to build is reported, the others still run
            traceback.print_exc()
            continue
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "text"}, default=str)[:600], file=sys.stderr, flush=True)
        Path(opts.out).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.out).write_text(json.dumps(rows, indent=1, default=str))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
