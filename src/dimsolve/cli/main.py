"""dimsolve: check torch.export dynamic_shapes specs from the terminal.

Exit codes: 0 the spec is valid, 1 violations were found, 2 usage error (bad arguments, a file or
factory that cannot be loaded, a factory that returns the wrong thing).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE = 0, 1, 2
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool stopped by `| head`

EPILOG = """exit codes (check; demo exits 0 when it ran):
  0  the spec is valid
  1  the spec has violations (the report says which, with a verified fix)
  2  usage error: bad arguments, or a case file/factory that cannot be loaded
  141  the reader of stdout went away (`| head`): the rest of the output is dropped quietly

`check` imports and runs the Python file you name: only point it at code you trust."""


def _parser() -> argparse.ArgumentParser:
    from dimsolve._version import __version__

    parser = argparse.ArgumentParser(prog="dimsolve", description=__doc__.splitlines()[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dimsolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="check a bundled example model with a wrong spec and print the report")
    demo.add_argument("--format", choices=("text", "json"), default="text")
    check = sub.add_parser("check", help="check the case returned by FILE.py:FACTORY")
    check.add_argument("target", help="path/to/file.py:factory, where factory() returns (model, args, kwargs, dynamic_shapes) or a dimsolve.Case")
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument("--strict", action="store_true", help="trace with strict (dynamo) export")
    check.add_argument("--spec-json", metavar="FILE",
                       help="check this JSON spec (docs/service.md) instead of the factory's dynamic_shapes")
    check.add_argument("--no-verify-fix", dest="verify_fix", action="store_false",
                       help="do not export the fix with torch (it is proven by z3 only): one export, not two, "
                            "when the spec is wrong")
    explain = sub.add_parser("explain", help="print the documentation of a diagnostic code")
    explain.add_argument("code", help="e.g. DS201")
    from dimsolve.cli.lint import register

    register(sub)  # lint, cache clear
    from dimsolve.service.cli import add_serve_parser  # argparse only: the web framework loads in `serve`

    add_serve_parser(sub)
    return parser


def _print_report(report: object, fmt: str, target: str | None = None) -> int:
    import json

    if fmt == "json":
        print(report.model_dump_json())  # type: ignore[attr-defined]
    elif fmt == "sarif":
        print(json.dumps(_sarif(report, target), indent=2))
    else:
        print(report)
    return EXIT_OK if report.ok else EXIT_VIOLATIONS  # type: ignore[attr-defined]


def _sarif(report: object, target: str | None) -> dict[str, object]:
    """The report's SARIF; for ``check``, every result located at the case's factory (file and line),
    as ``lint`` locates results at the case, so that code scanning shows them."""
    from dimsolve.cli.cases import factory_line
    from dimsolve.diagnostics.sarif import artifact_uri

    log: dict[str, Any] = report.to_sarif()  # type: ignore[attr-defined]
    if target is None:
        return log
    physical = {"artifactLocation": {"uri": artifact_uri(target.rpartition(":")[0])},
                "region": {"startLine": factory_line(target)}}
    for result in log["runs"][0]["results"]:
        location = (result.get("locations") or [{}])[0]
        location["physicalLocation"] = physical
        result["locations"] = [location]
    return log


def _demo(fmt: str) -> int:
    from dimsolve.examples.tutorial import wrong_spec
    from dimsolve.export.api import check_dynamic_shapes

    model, args, kwargs, dynamic_shapes = wrong_spec()
    if fmt == "text":
        print("dimsolve demo: checking the bundled tutorial model (src/dimsolve/examples/tutorial.py)")
        print('  spec: {"x": (dx, d1), "y": (dy, d1)} with dx, dy, d1 = Dim("dx"), Dim("dy"), Dim("d1")\n')
    report = check_dynamic_shapes(model, args, kwargs, dynamic_shapes=dynamic_shapes)
    _print_report(report, fmt)
    return EXIT_OK  # the demo's spec is wrong on purpose: finding that is success


def _check(target: str, fmt: str, strict: bool, spec_json: str | None = None, verify_fix: bool = True) -> int:
    from dimsolve.export.api import InvalidArgument

    try:
        return _check_case(target, fmt, strict, spec_json, verify_fix)
    except InvalidArgument as exc:  # the factory returned values dimsolve cannot check
        print(f"error: {target}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _check_case(target: str, fmt: str, strict: bool, spec_json: str | None, verify_fix: bool) -> int:
    from dimsolve.cli.cases import CaseError, load_case
    from dimsolve.export.api import check_dynamic_shapes

    try:
        case = load_case(target)
    except CaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if spec_json is not None:
        from dimsolve.service.cli import SpecFileError, check_spec_json

        try:
            return _print_report(check_spec_json(case, spec_json, strict or case.strict), fmt, target)
        except SpecFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    report = check_dynamic_shapes(case.model, case.args, case.kwargs, dynamic_shapes=case.dynamic_shapes,
                                  strict=strict or case.strict, verify_fix=verify_fix)
    return _print_report(report, fmt, target)


def _explain(code_id: str) -> int:
    from dimsolve.diagnostics.explain import UnknownCodeError, explain

    try:
        print(explain(code_id))
    except UnknownCodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _demo(args.format)
    if args.command == "check":
        return _check(args.target, args.format, args.strict, args.spec_json, args.verify_fix)
    if hasattr(args, "run"):  # lint, cache clear (cli/lint.py); serve (service/cli.py)
        return int(args.run(args))
    return _explain(args.code)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:  # Ctrl-C, or a user's file raising it: stop without a traceback
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a dimsolve bug: say so in one line, keep the traceback opt-in
        if os.environ.get("DIMSOLVE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "this is a bug in dimsolve; rerun with DIMSOLVE_DEBUG=1 for the traceback and please report it",
              file=sys.stderr)
        return EXIT_USAGE


def _closed_pipe() -> int:
    # stdout's reader is gone: point stdout at devnull so the interpreter's final flush does not
    # fail again ("Exception ignored ... BrokenPipeError"), and stop without a message
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (embedded use): nothing to redirect
        pass
    return EXIT_CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
