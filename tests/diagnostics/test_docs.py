"""Every registry code has a doc page with the fixed sections; the pages ship with the package.

Canonical pages: ``src/dimsolve/diagnostics/docs/<ID>.md``. ``docs/codes/<ID>.md`` is an exact copy
(``DIMSOLVE_UPDATE_SNAPSHOTS=1`` refreshes it). The torch-marked tests run each page's example and
"use instead" code with torch.export, so the pages stay true to torch's behaviour.
"""

import logging
import re
import shutil
import warnings
from pathlib import Path

import pytest

from dimsolve.diagnostics.codes import CODES
from dimsolve.diagnostics.explain import SECTIONS, UnknownCodeError, explain

from .snapshot import updating

REPO = Path(__file__).resolve().parents[2]
CANONICAL = REPO / "src" / "dimsolve" / "diagnostics" / "docs"
MIRROR = REPO / "docs" / "codes"
IDS = sorted(CODES)


def _sections(text):
    """``{heading: body}`` for the ``## `` sections, in order."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _python_block(body):
    m = re.search(r"```python\n(.*?)```", body, re.S)
    return m.group(1) if m else None


@pytest.mark.parametrize("code_id", IDS)
def test_page_has_title_and_fixed_sections(code_id):
    text = (CANONICAL / f"{code_id}.md").read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# {code_id} {CODES[code_id].name}"
    sections = _sections(text)
    assert tuple(sections) == SECTIONS
    for heading, body in sections.items():
        assert len(body.strip()) > 80, f"{code_id}: section {heading!r} is too thin"
    assert _python_block(sections["Example"]), f"{code_id}: Example needs a python block"
    assert _python_block(sections["Use instead"]), f"{code_id}: Use instead needs a python block"
    fix_safety = sections["Fix safety"].lower()
    assert any(word in fix_safety for word in ("verified", "no automatic fix", "no fix", "nothing to apply", "no spec change"))


def test_no_pages_for_unknown_codes():
    assert sorted(p.stem for p in CANONICAL.glob("DS*.md")) == IDS


def test_mirror_is_identical_to_the_canonical_pages():
    if updating():
        for stale in MIRROR.glob("DS*.md"):
            stale.unlink()
        for page in CANONICAL.glob("DS*.md"):
            shutil.copyfile(page, MIRROR / page.name)
    mirror = {p.name: p.read_bytes() for p in MIRROR.glob("DS*.md")}
    canonical = {p.name: p.read_bytes() for p in CANONICAL.glob("DS*.md")}
    assert sorted(mirror) == sorted(canonical)
    differing = [name for name in canonical if canonical[name] != mirror[name]]
    assert not differing, f"docs/codes differs from the canonical pages: {differing} (DIMSOLVE_UPDATE_SNAPSHOTS=1)"


def test_index_lists_every_code():
    index = (MIRROR / "README.md").read_text(encoding="utf-8")
    for code_id in IDS:
        assert f"[{code_id}]({code_id}.md)" in index
        assert f"`{CODES[code_id].name}`" in index


@pytest.mark.parametrize("code_id", IDS)
def test_explain_returns_the_packaged_page(code_id):
    assert explain(code_id) == (CANONICAL / f"{code_id}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spelling", ["ds201", " DS201 ", "Ds201"])
def test_explain_normalises_the_id(spelling):
    assert explain(spelling).startswith("# DS201 must-be-equal")


@pytest.mark.parametrize("bad", ["DS999", "", "201", "../README"])
def test_explain_unknown_code(bad):
    with pytest.raises(UnknownCodeError, match="unknown diagnostic code"):
        explain(bad)


# --- the examples are real: run them with torch.export ---------------------------------------

# codes whose example does *not* raise: the finding is informational, or torch exports and only
# dimsolve's analysis reports the problem
EXAMPLE_RUNS = {"DS405", "DS602", "DS901"}


def _run(code_id, section):
    pytest.importorskip("torch")
    text = (CANONICAL / f"{code_id}.md").read_text(encoding="utf-8")
    source = _python_block(_sections(text)[section])
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(source, f"<{code_id} {section}>", "exec"), {"__name__": f"docs_{code_id}"})
    finally:
        logging.disable(logging.NOTSET)


@pytest.mark.torch
@pytest.mark.parametrize("code_id", IDS)
def test_example_behaves_as_documented(code_id):
    if code_id in EXAMPLE_RUNS:
        _run(code_id, "Example")
        return
    text = (CANONICAL / f"{code_id}.md").read_text(encoding="utf-8")
    documented = re.search(r"#\s*([A-Z]\w*(?:Error|Node)):", _python_block(_sections(text)["Example"]))
    assert documented, f"{code_id}: the example should show the error torch raises in a comment"
    with pytest.raises(Exception) as info:  # noqa: B017 - the documented type is checked below
        _run(code_id, "Example")
    assert type(info.value).__name__ == documented.group(1)


@pytest.mark.torch
@pytest.mark.parametrize("code_id", IDS)
def test_use_instead_runs(code_id):
    _run(code_id, "Use instead")
