"""Finding case files and cases, sharding, usage errors and ``dimsolve cache clear``: no tracing."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dimsolve.cli.discover import (
    CaseRef,
    ConfigError,
    Config,
    case_files,
    discover,
    find_root,
    glob_regex,
    load_config,
    parse_shard,
    shard,
    spec_lines,
)
from dimsolve.cli.main import main
from dimsolve.cli.progress import Progress
from dimsolve.export.cache import GuardSetCache


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        pytest.param("models/**/shape_cases.py", "models/shape_cases.py", True, id="doublestar-zero-dirs"),
        pytest.param("models/**/shape_cases.py", "models/a/b/shape_cases.py", True, id="doublestar-many-dirs"),
        pytest.param("models/**/shape_cases.py", "other/models/shape_cases.py", False, id="anchored-at-root"),
        pytest.param("**/*shape_cases.py", "vision_shape_cases.py", True, id="default-top-level"),
        pytest.param("**/*shape_cases.py", "a/b/shape_cases.py", True, id="default-nested"),
        pytest.param("models/*.py", "models/a/x.py", False, id="star-stays-in-segment"),
        pytest.param("models/case?.py", "models/case1.py", True, id="question-mark"),
        pytest.param("models/cases.py", "models/casesXpy", False, id="dot-is-literal"),
    ],
)
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_spec_lines_point_at_the_spec_of_each_form():
    source = textwrap.dedent('''
        def tuple_form():
            return M(), (x,), {}, {"x": (d,)}

        def variable():
            spec = {"x": (d,)}
            return M(), (x,), {}, spec

        def case_form():
            return dimsolve.Case(
                M(), (x,),
                dynamic_shapes={"x": (d,)},
            )

        def nothing():
            pass
    ''')
    assert spec_lines(source) == {"tuple_form": 3, "variable": 6, "case_form": 12, "nothing": 15}
    assert spec_lines("def broken(:\n") == {}


ids = st.lists(st.text(alphabet="ab/:._", min_size=1, max_size=8), unique=True, max_size=30)


@given(ids, st.integers(1, 6))
def test_shards_partition_the_cases(case_ids, n):
    refs = [CaseRef(i, "/f.py", "f.py", "f", 1) for i in case_ids]
    parts = [shard(refs, i, n) for i in range(1, n + 1)]
    assert sorted(r.id for part in parts for r in part) == sorted(case_ids)
    assert parts == [shard(list(reversed(refs)), i, n) for i in range(1, n + 1)]  # independent of input order


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0", "-1/2"])
def test_bad_shards_are_rejected(text):
    with pytest.raises(ValueError):
        parse_shard(text)


def write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_config_globs_directories_and_named_files(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.dimsolve]\ncases = ["models/**/shape_cases.py"]\ncache-dir = "c"\n',
        "models/a/shape_cases.py": "",
        "models/a/helpers.py": "",
        "models/b/shape_cases.py": "",
        "models/.hidden/shape_cases.py": "",
        "other/shape_cases.py": "",
    })
    (tmp_path / "sub").mkdir()
    assert find_root(tmp_path / "sub") == tmp_path.resolve()
    config = load_config(tmp_path)
    assert config.cases == ("models/**/shape_cases.py",) and config.cache_dir == "c"
    rel = lambda files: [p.relative_to(tmp_path.resolve()).as_posix() for p in files]  # noqa: E731
    assert rel(case_files(config)) == ["models/a/shape_cases.py", "models/b/shape_cases.py"]
    assert rel(case_files(config, [str(tmp_path / "models/a")])) == ["models/a/shape_cases.py"]
    assert rel(case_files(config, [str(tmp_path / "other/shape_cases.py")])) == ["other/shape_cases.py"]
    with pytest.raises(ConfigError, match="no such file"):
        case_files(config, [str(tmp_path / "missing")])


@pytest.mark.parametrize(
    "toml, message",
    [
        pytest.param("[tool.dimsolve]\ncases = 3\n", "list of glob strings", id="cases-not-a-list"),
        pytest.param("[tool.dimsolve]\ncache-dir = 1\n", "cache-dir must be a string", id="bad-cache-dir"),
        pytest.param("[tool.dimsolve\n", "cannot read", id="bad-toml"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path, toml, message):
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_discovery_without_torch(tmp_path):
    write(tmp_path, {
        "a_shape_cases.py": '''
            import dimsolve
            from dimsolve import case as declare

            @dimsolve.case
            def first():
                return None

            @declare(strict=True)
            def second():
                return None

            def not_a_case():
                pass
        ''',
        "b_shape_cases.py": "def oops(:\n",
    })
    found = discover(Config(tmp_path.resolve()))
    assert [(c.id, c.strict, c.is_import_error) for c in found.cases] == [
        ("a_shape_cases.py::first", False, False),
        ("a_shape_cases.py::second", True, False),
        ("b_shape_cases.py", False, True),
    ]
    broken = found.cases[-1]
    assert broken.error.startswith("SyntaxError") and broken.line == 1


def run_main(monkeypatch, tmp_path, *argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIMSOLVE_CACHE_DIR", raising=False)
    return main(list(argv))


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("lint", "--shard", "4/3"), id="shard-out-of-range"),
        pytest.param(("lint", "-j", "0"), id="no-workers"),
        pytest.param(("lint", "--format", "xml"), id="unknown-format"),
        pytest.param(("lint", "--report", "sarif"), id="report-without-file"),
    ],
)
def test_bad_arguments_exit_2(monkeypatch, tmp_path, argv):
    with pytest.raises(SystemExit) as exc:
        run_main(monkeypatch, tmp_path, *argv)
    assert exc.value.code == 2


def test_missing_path_and_no_cases_exit_2(monkeypatch, tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("")
    assert run_main(monkeypatch, tmp_path, "lint", "nope.py") == 2
    assert "no such file or directory: nope.py" in capsys.readouterr().err
    assert run_main(monkeypatch, tmp_path, "lint") == 2
    assert "no dimsolve cases found" in capsys.readouterr().err


def test_cache_clear_removes_only_its_own_files(monkeypatch, tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("")
    cache = GuardSetCache(tmp_path / ".dimsolve_cache")
    cache.store("k" * 64, "{}")
    cache.store("j" * 64, "{}")
    foreign = tmp_path / ".dimsolve_cache" / "notes.txt"
    foreign.write_text("keep me")
    assert run_main(monkeypatch, tmp_path, "cache", "clear") == 0
    assert "removed 2 cached GuardSets" in capsys.readouterr().out
    assert foreign.exists() and not (tmp_path / ".dimsolve_cache" / "guardsets").exists()
    foreign.unlink()
    assert run_main(monkeypatch, tmp_path, "cache", "clear") == 0
    assert not (tmp_path / ".dimsolve_cache").exists()


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal():
    quiet = io.StringIO()
    Progress(2, quiet).update(1, "a.py::f")
    assert quiet.getvalue() == ""
    tty = FakeTerminal()
    progress = Progress(2, tty)
    progress.update(1, "a.py::f")
    progress.close()
    assert tty.getvalue() == "\r\x1b[K[1/2] a.py::f\r\x1b[K"


def test_help_states_the_trust_boundary_and_exit_codes():
    proc = subprocess.run([sys.executable, "-m", "dimsolve.cli.main", "lint", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    assert "IMPORTS the case files and RUNS" in proc.stdout and "exit codes:" in proc.stdout


def test_plugin_and_cli_modules_import_neither_torch_nor_z3():
    code = ("import sys, dimsolve.pytest_plugin, dimsolve.cli.lint, dimsolve.cli.discover; "
            "heavy = {'torch', 'z3'} & set(sys.modules); assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
