"""The package's layers, as each subpackage's docstring states them: an import only points down."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "gruvar"
# What each part of gruvar/ may import of gruvar (besides itself). The face, gruvar/__init__.py,
# may import any of them; nothing imports the face from inside.
MAY_IMPORT = {
    "core": set(),
    "data": set(),
    "linen": {"core"},
    "nnx": {"core"},
    "training": {"core", "linen", "data"},
    "comparison": {"core", "linen", "data", "training", "cli"},
    "cli": set(),
    "hugepages": set(),
}


def _imports(path: Path) -> set[str]:
    """The parts of gruvar that ``path`` imports (anywhere in it, lazy imports too); "gruvar"
    for the face itself."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "gruvar":
                modules = [f"gruvar.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            names = module.split(".")
            if names[0] == "gruvar":
                parts.add(names[1] if len(names) > 1 else "gruvar")
    return parts


def test_every_import_points_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative == Path("__init__.py"):
            continue
        part = relative.parts[0].removesuffix(".py")
        assert part in MAY_IMPORT, f"gruvar/{relative} is in no layer: add it to MAY_IMPORT"
        for used in _imports(path) - {part}:
            if used not in MAY_IMPORT[part]:
                name = "the package face" if used == "gruvar" else f"gruvar.{used}"
                wrong.append(f"gruvar/{relative} imports {name}")
    assert not wrong, (
        "imports against the layers (each subpackage's docstring says what it may import):\n"
        + "\n".join(wrong)
    )
