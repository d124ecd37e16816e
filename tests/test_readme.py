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
