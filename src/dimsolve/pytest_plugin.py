"""pytest plugin (entry point ``pytest11: dimsolve``): ``pytest --dimsolve`` runs the declared shape cases.

Every ``@dimsolve.case`` in the case files of ``[tool.dimsolve] cases`` becomes a test item
(``models/a/shape_cases.py::good``) that fails with the text report when its spec is not valid.
Case files are collected even when they lie outside ``testpaths``. Collecting them imports and
runs the project's code, as ``dimsolve lint`` does.

pytest loads this module in every run of every project that has dimsolve installed: it imports
neither torch nor z3 (nor anything of dimsolve that does) until ``--dimsolve`` is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_STATE = pytest.StashKey["_State"]()


class _State:
    def __init__(self, config: pytest.Config) -> None:
        from dimsolve.cli.discover import case_files, find_root, load_config

        self.config = load_config(find_root(config.rootpath))
        self.files = set(case_files(self.config))
        self.collected: set[Path] = set()
        self.use_cache = not config.getoption("dimsolve_no_cache")
        self.cache_problem: str | None = None
        if self.use_cache:
            from dimsolve.export.cache import GuardSetCache, default_cache_dir

            directory = default_cache_dir(self.config.root, self.config.cache_dir)
            self.cache_problem = GuardSetCache(directory).unusable()
            self.use_cache = self.cache_problem is None
        # `pytest --dimsolve path ...` runs the cases of those paths only; without paths, every case
        # file, also those outside testpaths
        self.scope = _named_paths(config)

    def wanted(self, path: Path) -> bool:
        return self.scope is None or any(path == p or p in path.parents for p in self.scope)


def _named_paths(config: pytest.Config) -> list[Path] | None:
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return None
    return [(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dimsolve", "dimsolve shape cases")
    group.addoption("--dimsolve", action="store_true", default=False,
                    help="collect the @dimsolve.case functions of the [tool.dimsolve] case files as tests "
                         "(imports and runs them)")
    group.addoption("--dimsolve-no-cache", action="store_true", default=False,
                    help="trace every case instead of reusing cached GuardSets")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dimsolve: a declared dimsolve shape case (collected by --dimsolve)")
    if config.getoption("dimsolve"):
        from dimsolve.cli.discover import ConfigError

        try:
            config.stash[_STATE] = _State(config)
        except ConfigError as exc:
            raise pytest.UsageError(f"--dimsolve: {exc}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(_STATE, None)
    if state is None or state.cache_problem is None:
        return None
    return f"dimsolve: warning: {state.cache_problem}; running without the cache"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = parent.config.stash.get(_STATE, None)
    if state is None or file_path.resolve() not in state.files:
        return None
    state.collected.add(file_path.resolve())
    return CaseFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection sees the items
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    for path in sorted(state.files - state.collected):
        if not state.wanted(path):
            continue
        state.collected.add(path)
        items.extend(session.genitems(CaseFile.from_parent(session, path=path)))


class CaseFile(pytest.File):
    """A case file: importing it is collection; each ``@dimsolve.case`` is an item."""

    def collect(self) -> Iterator[pytest.Item]:
        from dimsolve.cli.discover import cases_in, import_case_file

        state = self.config.stash[_STATE]
        module = import_case_file(self.path.resolve(), state.config.root)
        for ref in cases_in(module, self.path.resolve(), state.config.root):
            item = CaseItem.from_parent(self, name=ref.function or "", ref=ref)
            item.add_marker("dimsolve")
            yield item


class CaseFailed(Exception):
    """The case's spec has findings (or the case could not run); the message is the report."""


class CaseItem(pytest.Item):
    def __init__(self, *, ref: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref = ref

    def runtest(self) -> None:
        from dimsolve.cli.runner import OK, RunOptions, run_case
        from dimsolve.export.cache import default_cache_dir

        state = self.config.stash[_STATE]
        cache_dir = str(default_cache_dir(state.config.root, state.config.cache_dir)) if state.use_cache else None
        result = run_case(self.ref, RunOptions(str(state.config.root), cache_dir))
        if result.output:
            print(result.output, end="")  # shown by pytest's capture on failure
        if result.status != OK:
            raise CaseFailed(result.text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.ref.line - 1, f"dimsolve case {self.ref.id}"
