"""The package's rooms and who may import whom: data flows one way, and nothing imports upward.

Every import is read from the source, lazy ones (inside a function) and ``TYPE_CHECKING`` ones
included, so a cycle cannot hide behind a deferred import.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flake8_cancel"

# The layers, lowest first: a module may import only from the layers before its own (and from
# its own layer's modules listed before it). Rules sit in one layer and never import each other.
LAYERS: List[List[str]] = [
    ["lazy"],
    ["syntax"],
    ["names"],
    ["flow"],
    ["deadlines"],
    ["settings"],
    ["modules"],
    ["options"],
    ["sites"],
    ["fix_safety"],
    ["edits"],
    ["gate"],
    ["screen"],
    ["registry"],
    ["rules.can*"],
    ["rules"],
    ["source"],
    ["positions"],
    ["regions"],
    ["engine"],
    ["noqa"],
    ["fixer"],
    ["selection"],
    ["config"],
    ["discovery"],
    ["reporting"],
    ["cli", "plugin", "codemod"],
    ["__main__"],
]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, Path] = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> Set[str]:
    """The package modules that module ``name`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for target in targets:
            if target == "flake8_cancel" or not target.startswith("flake8_cancel."):
                continue
            inner = target[len("flake8_cancel."):]
            # `from flake8_cancel.x import name` names module x; `name` counts only if a module.
            if inner in MODULES:
                found.add(inner)
    found.discard(name)
    return found


def layer_of(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        for pattern in layer:
            if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
                return index
    raise AssertionError(f"flake8_cancel.{name} is in no layer of tests/test_architecture.py")


def test_every_module_has_a_layer():
    for name in MODULES:
        if name:  # the package's own __init__
            layer_of(name)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n), ids=str)
def test_imports_only_from_lower_layers(name):
    upward = {
        imported
        for imported in imports_of(name)
        if layer_of(imported) >= layer_of(name) and not _earlier_in_same_layer(imported, name)
    }
    assert not upward, f"flake8_cancel.{name} imports from its own layer or above: {sorted(upward)}"


def _earlier_in_same_layer(imported: str, name: str) -> bool:
    layer = LAYERS[layer_of(name)]
    return layer_of(imported) == layer_of(name) and (
        imported in layer and name in layer and layer.index(imported) < layer.index(name)
    )


def test_no_rule_imports_another_rule():
    rules = [name for name in MODULES if name.startswith("rules.can")]
    assert rules
    for name in rules:
        assert not {imported for imported in imports_of(name) if imported.startswith("rules")}, name


def test_there_is_no_import_cycle():
    graph = {name: imports_of(name) for name in MODULES if name}
    visiting: List[str] = []
    done: Set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import cycle: " + " -> ".join(
            visiting[visiting.index(name):] + [name]
        )
        visiting.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_checks_see_lazy_and_type_checking_imports(tmp_path, monkeypatch):
    """A deferred import is still an import: the reader must not miss it."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from flake8_cancel.engine import Engine\n"
        "def f():\n    from flake8_cancel.cli import main\n"
    )
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    monkeypatch.setitem(MODULES, "probe", module)
    assert imports_of("probe") == {"engine", "cli"}
