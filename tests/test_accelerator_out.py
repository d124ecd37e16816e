"""benchmarks/accelerator.py cannot lose a lent GPU's run to its --out: the folder is checked
before the first part, and the report is written (and each table printed) as each part ends."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402


def test_an_out_that_cannot_hold_the_report_is_refused_before_the_first_part(tmp_path):
    taken = tmp_path / "a_file"
    taken.write_text("")
    env = os.environ | {"GRUVAR_HUGE_PAGES": "0"}
    command = [sys.executable, "benchmarks/accelerator.py", "--dry_run", f"--out={taken}"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: --out '{taken}' cannot")
    assert "Traceback" not in result.stderr and "== environment" not in result.stdout


def test_a_read_only_out_is_refused(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", read_only)
    with pytest.raises(ValueError, match=r"--out .* cannot hold the report \(Permission denied"):
        report.check_out(tmp_path / "out")


def test_each_part_is_written_and_printed_as_it_ends(tmp_path, capsys):
    seen = []

    def first(part):
        part.lines = ["| table | one |"]

    def second(part):
        seen.append(json.loads((tmp_path / "report.json").read_text())["parts"])
        assert "| table | one |" in capsys.readouterr().out
        raise RuntimeError("the GPU went away")

    after = report.write_so_far(tmp_path, dry_run=True)
    report.run_parts({"first": first, "second": second}, {"first": 9, "second": 9}, after)
    assert list(seen[0]) == ["first"] and seen[0]["first"]["status"] == "ok"
    found = json.loads((tmp_path / "report.json").read_text())["parts"]
    assert found["second"]["status"] == "failed"
    assert not [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"]
