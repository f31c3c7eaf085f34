"""The package's layers, read from the source with ``ast``: calls only go down, and nothing cycles.

From the top: the command line (``newsflow/cli.py``, ``newsflow/commands/``, the deploy entry
points) → ``pipelines/`` (options, runner choice, the pipeline, the launcher) → ``transforms/``
→ pure logic (the rest of ``newsflow/``) → ``schemas/``. ``local/`` (this machine's set-up) may
be used by the command line and ``pipelines/`` only, and uses pure logic and schemas at most.
Every import counts, including those inside functions (they once hid a cycle between
``pipelines/ingest.py`` and the commands), and those only for type checking.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("newsflow", "pipelines", "transforms", "schemas", "local")
ENTRY_FILES = {"deploy.dataflow.main": ROOT / "deploy" / "dataflow" / "main.py"}

# Layer of a module, by the longest matching prefix; ranks from the bottom.
LAYERS = {
    "newsflow.cli": "cli",
    "newsflow.commands": "cli",
    "deploy": "cli",
    "pipelines": "pipelines",
    "transforms": "transforms",
    "newsflow": "logic",
    "schemas": "schemas",
    "local": "local",
}
RANK = {"schemas": 0, "logic": 1, "transforms": 2, "pipelines": 3, "cli": 4}
# local/ sits beside the stack: who may import it, and what it may import.
LOCAL_USERS = {"cli", "pipelines", "local"}
LOCAL_USES = {"local", "logic", "schemas"}
NO_BEAM = {"logic", "schemas", "local"}  # pure logic has no Beam in it
# Programs of their own in local/ that host Beam's SDK workers (``python -m local.workerpool``):
# they may import Beam, and nothing may import them.
BEAM_PROGRAMS = {"local.workerpool"}


def modules() -> dict[str, Path]:
    found = dict(ENTRY_FILES)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = modules()


def layer(module: str) -> str:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer")


def imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import in ``path``, resolved to our modules or not."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else base), node.lineno


def ours(name: str) -> str | None:
    """The project module ``name`` is, or lives in (None: a third-party or stdlib module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in imported(module, path):
            target = ours(name)
            if target is not None and target != module:
                edges[module].add(target)
    return edges


def test_every_module_has_a_layer_and_the_map_names_real_packages() -> None:
    assert {layer(m) for m in MODULES} == {*RANK, "local"}
    assert "pipelines.launcher" in MODULES and "local.esnode" in MODULES


def test_no_module_imports_a_layer_above_its_own() -> None:
    wrong = []
    for module, path in MODULES.items():
        mine = layer(module)
        for name, line in imported(module, path):
            if name.split(".")[0] == "apache_beam" and mine in NO_BEAM \
                    and module not in BEAM_PROGRAMS:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports Beam")
            target = ours(name)
            if target is None:
                continue
            if target in BEAM_PROGRAMS:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}, a program")
            theirs = layer(target)
            if theirs == "local":
                allowed = mine in LOCAL_USERS
            elif mine == "local":
                allowed = theirs in LOCAL_USES
            else:
                allowed = RANK[theirs] <= RANK[mine]
            if not allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {target} "
                             f"({theirs})")
    assert wrong == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"a"}}, [["a"]]),
])
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]],
                                       expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_imports_inside_functions_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from pipelines import launcher\n    import local.esnode\n")
    assert sorted(imported("newsflow.m", source)) == [("local.esnode", 3),
                                                      ("pipelines.launcher", 2)]
