"""Where dimsolve's time goes: cProfile of ``check_spec`` on a model of the suite, or of the solver
on a synthetic GuardSet.

    python -m bench.profiling tutorial --spec violated     # check_spec against the cached GuardSet
    python -m bench.profiling --synthetic 10000x200        # build_problem + check, valid spec
    python -m bench.profiling --synthetic 1000x100 --spec violated --fix   # ... + synthesize
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import warnings


def _model(name: str, spec: str, calls: int) -> cProfile.Profile:
    import dimsolve
    from bench.model_bench import warm_up
    from bench.models import suite

    warnings.simplefilter("ignore")
    warm_up()
    cases = suite(False, [name])
    if not cases:
        sys.exit(f"no model named {name!r} (see bench/models.py)")
    built = cases[0].build()
    guardset = dimsolve.trace_guards(built.model, built.args)
    chosen = built.good if spec == "valid" else built.bad
    dimsolve.check_spec(guardset, chosen)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        dimsolve.check_spec(guardset, chosen)
    profile.disable()
    return profile


def _synthetic(size: str, spec: str, fix: bool) -> cProfile.Profile:
    from bench.synthetic import make_case
    from dimsolve.solver.check import check
    from dimsolve.solver.problem import build_problem
    from dimsolve.solver.synthesis import synthesize

    guards, symbols = (int(x) for x in size.lower().split("x"))
    case = make_case(guards, symbols)
    profile = cProfile.Profile()
    profile.enable()
    problem = build_problem(case.guardset, case.valid if spec == "valid" else case.violated)
    verdict = check(problem)
    if fix and verdict.violations:
        synthesize(problem, verdict)
    profile.disable()
    return profile


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="a model name from bench/models.py")
    parser.add_argument("--spec", choices=("valid", "violated"), default="valid")
    parser.add_argument("--calls", type=int, default=20, help="check_spec calls to profile (model mode)")
    parser.add_argument("--synthetic", metavar="GUARDSxSYMBOLS", help="profile the solver on a synthetic GuardSet")
    parser.add_argument("--fix", action="store_true", help="synthetic: also profile the fix synthesis")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (default: cumulative)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if args.synthetic:
        profile = _synthetic(args.synthetic, args.spec, args.fix)
    elif args.model:
        profile = _model(args.model, args.spec, args.calls)
    else:
        parser.error("give a model name or --synthetic")
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
