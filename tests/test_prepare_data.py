"""experiments/prepare_data.py reports what a data directory holds."""

import subprocess
import sys
from pathlib import Path

import pytest

from gruvar.data import prepare

ROOT = Path(__file__).parents[1]
SHARED = ROOT.parent / "shared" / "data"


def test_an_empty_directory_reports_mnist_and_imdb_missing_and_the_packaged_music(tmp_path):
    rows = dict(prepare.report(str(tmp_path)))
    assert set(rows) == {"mnist", "imdb", "jsb", "nottingham", "musedata", "pianomidi", "speech"}
    assert rows["mnist"].startswith("MISSING or BAD") and rows["imdb"].startswith("MISSING")
    assert "--speech=festvox-ru" in rows["speech"], "says how to prepare it"
    assert "t10k-images-idx3-ubyte.gz" in rows["mnist"]  # says what to put where
    for name in ("jsb", "nottingham", "musedata", "pianomidi"):
        assert rows[name].startswith("ok: packaged copy"), rows[name]


def test_damaged_data_is_reported_not_used(tmp_path):
    (tmp_path / "polyphonic").mkdir()
    (tmp_path / "polyphonic" / "JSB_Chorales.mat").write_bytes(b"garbage")
    assert "does not match the known sha256" in dict(prepare.report(str(tmp_path)))["jsb"]


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared data at {SHARED}")
def test_the_shared_data_directory_is_complete():
    result = subprocess.run(
        [sys.executable, "experiments/prepare_data.py", f"--data_dir={SHARED}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    # The speech set is prepared on demand (--speech), not shipped in the shared folder.
    shipped = [line for line in lines if not line.startswith("speech ")]
    assert len(lines) == 7 and all("  ok: " in line for line in shipped), result.stdout
