import pytest

from . import snapshot


@pytest.fixture
def snapdir(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "SNAPSHOT_DIR", tmp_path)
    monkeypatch.delenv("DIMSOLVE_UPDATE_SNAPSHOTS", raising=False)
    return tmp_path


def test_changed_output_fails(snapdir):
    (snapdir / "x.txt").write_text("found 1 error\n")
    snapshot.assert_snapshot("x.txt", "found 1 error\n")
    with pytest.raises(AssertionError, match="differs from snapshot"):
        snapshot.assert_snapshot("x.txt", "found 2 errors\n")


def test_missing_snapshot_fails(snapdir):
    with pytest.raises(AssertionError, match="missing snapshot"):
        snapshot.assert_snapshot("absent.txt", "anything")


def test_update_mode_writes(snapdir, monkeypatch):
    monkeypatch.setenv("DIMSOLVE_UPDATE_SNAPSHOTS", "1")
    snapshot.assert_snapshot("sub/new.txt", "text")
    assert (snapdir / "sub" / "new.txt").read_text() == "text"
