"""The README's Python example runs as written."""

import re
from pathlib import Path

import gruvar


def test_readme_example_runs():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README.md should show a Python example"
    registered = dict(gruvar.VARIANTS)
    try:
        namespace = {}
        exec(blocks[0], namespace)
        assert namespace["outputs"].shape == (8, 28, 200)
    finally:  # the example registers a variant; leave the registry as it was
        gruvar.VARIANTS.clear()
        gruvar.VARIANTS.update(registered)


def test_readme_notebook_training_example_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "train" in b)
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))  # a notebook in the repo root
    namespace = {}
    exec(block.replace('"/tmp/run"', repr(str(tmp_path))), namespace)
    assert namespace["summary"]["variant"] == "gru1"
    assert (tmp_path / "summary.json").exists()
