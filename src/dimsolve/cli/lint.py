"""``dimsolve lint`` (check every declared case, for CI) and ``dimsolve cache clear``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

LINT_HELP = "check every @dimsolve.case in the project's case files (for CI)"

LINT_EPILOG = """cases:
  Case files are the files named on the command line, or, for directories (default: the project
  root, the nearest directory with a pyproject.toml), the files matching the globs in
      [tool.dimsolve]
      cases = ["models/**/shape_cases.py"]     # default: ["**/*shape_cases.py"]
  A case is a function decorated with @dimsolve.case that returns (model, args, kwargs,
  dynamic_shapes) or a dimsolve.Case.

trust: lint IMPORTS the case files and RUNS the case functions and the models they build, with the
  project root on sys.path. Only lint code you would run yourself.

cache: traced guards are cached in $DIMSOLVE_CACHE_DIR, [tool.dimsolve] cache-dir, or
  <root>/.dimsolve_cache, keyed by the model's source, the case file, the input shapes/dtypes and
  the torch/dimsolve versions; editing a spec re-checks it without tracing. Code the model calls
  from modules that define none of its classes is not in the key: use --no-cache (or
  `dimsolve cache clear`) after changing it. Entries are signed with $DIMSOLVE_CACHE_SECRET or
  ~/.config/dimsolve/cache-key (outside the cache): an edited entry is rebuilt, never trusted. A
  cache that cannot be written means one warning and a run without it.

exit codes:
  0  every case is valid
  1  at least one case has findings (its spec is not valid)
  2  no case has findings but at least one could not run (its file does not import, the function
     raises or returns something that is not a case), or a usage error (bad arguments, no cases)"""


def _shard_arg(text: str) -> tuple[int, int]:
    from dimsolve.cli.discover import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _jobs_arg(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes, got {text!r}") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError("-j must be at least 1")
    return jobs


def _report_arg(text: str) -> tuple[str, str]:
    from dimsolve.cli.formats import FORMATS

    fmt, sep, path = text.partition("=")
    if not sep or fmt not in FORMATS or not path:
        raise argparse.ArgumentTypeError(f"expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}, got {text!r}")
    return fmt, path


def register(sub: Any) -> None:
    """Add ``lint`` and ``cache`` to the ``dimsolve`` subcommands; each sets ``run`` to its handler."""
    from dimsolve.cli.formats import FORMATS

    lint = sub.add_parser("lint", help=LINT_HELP, description=LINT_HELP, epilog=LINT_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    lint.add_argument("paths", nargs="*", metavar="PATH", help="case files, or directories to search (default: the project root)")
    lint.add_argument("--format", choices=FORMATS, default="text")
    lint.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    lint.add_argument("--report", type=_report_arg, action="append", default=[], metavar="FORMAT=FILE",
                      help="also write a report in FORMAT to FILE (repeatable), e.g. --report sarif=dimsolve.sarif")
    lint.add_argument("-j", "--jobs", type=_jobs_arg, default=1, metavar="N", help="run cases in N worker processes")
    lint.add_argument("--shard", type=_shard_arg, metavar="I/N",
                      help="run only shard I of N (cases sorted by id path::function, every N-th from I)")
    lint.add_argument("--no-cache", action="store_true", help="trace every case; neither read nor write the cache")
    lint.add_argument("--no-verify-fix", dest="verify_fix", action="store_false",
                      help="do not export fixes with torch (they are proven by z3 only): one export per wrong spec")
    lint.set_defaults(run=run_lint)
    cache = sub.add_parser("cache", help="manage the GuardSet cache of `dimsolve lint`")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    clear = cache_sub.add_parser("clear", help="delete every cached GuardSet")
    clear.set_defaults(run=run_cache_clear)


def _config() -> Any:
    from dimsolve.cli.discover import find_root, load_config

    return load_config(find_root())


def run_lint(args: argparse.Namespace) -> int:
    from dimsolve.cli.discover import ConfigError, discover, shard
    from dimsolve.cli.formats import render
    from dimsolve.cli.progress import Progress
    from dimsolve.cli.runner import ERROR, FINDINGS, RunOptions, Summary, run_cases
    from dimsolve.export.cache import GuardSetCache, default_cache_dir

    start = time.perf_counter()
    try:
        config = _config()
        found = discover(config, args.paths)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not found.cases:
        where = ", ".join(args.paths) if args.paths else f"{config.root} (globs: {', '.join(config.cases)})"
        print(f"error: no dimsolve cases found in {where}", file=sys.stderr)
        return 2
    unwritable = next((path for path in [*(p for _, p in args.report), args.output] if path and not _can_write(path)), None)
    if unwritable is not None:  # before the cases run, not after
        print(f"error: cannot write {unwritable}: it is a directory, or its directory is missing or read-only",
              file=sys.stderr)
        return 2
    selected = shard(found.cases, *args.shard) if args.shard else found.cases
    cache_dir = None if args.no_cache else str(default_cache_dir(config.root, config.cache_dir))
    problem = GuardSetCache(cache_dir).unusable() if cache_dir is not None else None
    if problem is not None:  # one warning, then every case is traced: a finding is never lost to the cache
        print(f"warning: {problem}; running without the cache", file=sys.stderr)
        cache_dir = None
    progress = Progress(len(selected))
    results = run_cases(selected, RunOptions(str(config.root), cache_dir, args.verify_fix), args.jobs,
                        on_done=lambda n, r: progress.update(n, r.ref.id))
    progress.close()
    summary = Summary.of(results, time.perf_counter() - start, "{}/{}".format(*args.shard) if args.shard else None)
    try:
        for fmt, path in args.report:
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(fmt, results, summary))
        _emit(render(args.format, results, summary), args.format, args.output, summary.line())
    except BrokenPipeError:
        raise  # main() stops quietly
    except OSError as exc:
        print(f"error: cannot write {exc.filename or 'the report'}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if any(r.status == FINDINGS for r in results):
        return 1
    return 2 if any(r.status == ERROR for r in results) else 0


def _can_write(path: str) -> bool:
    parent = os.path.dirname(os.path.abspath(path))
    return os.path.isdir(parent) and os.access(parent, os.W_OK) and not os.path.isdir(path)


def _emit(text: str, fmt: str, output: str | None, summary_line: str) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        print(summary_line)
        return
    sys.stdout.write(text)
    sys.stdout.flush()
    if fmt != "text":  # stdout is a machine-readable document: the summary goes beside it
        print(summary_line, file=sys.stderr)


def run_cache_clear(args: argparse.Namespace) -> int:
    from dimsolve.cli.discover import ConfigError
    from dimsolve.export.cache import GuardSetCache, default_cache_dir

    try:
        config = _config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    directory = default_cache_dir(config.root, config.cache_dir)
    removed = GuardSetCache(directory).clear()
    print(f"removed {removed} cached GuardSet{'' if removed == 1 else 's'} from {os.fspath(directory)}")
    return 0
