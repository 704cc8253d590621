"""The packages of edcconf form a layered whole: no import cycle between them, no reaching into another
package's private names (ARCHITECTURE.md, issue #18).

The graph is built from the source (AST), not from what Python happens to import, and counts every
import: at the top of a module and inside a function alike, since a cycle through a function-local
import is still a cycle in the design. Imports under `if TYPE_CHECKING:` are not edges: they never run,
and an annotation may name a type from a package above (rules name the plan's Change that they judge). A
node is a subpackage of edcconf (`edcconf.state`) or a top-level
module (`edcconf.fs`); imports inside one node are not edges.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

import edcconf

PACKAGE = Path(edcconf.__file__).parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module, dotted and absolute
    names: tuple[str, ...]  # for `from x import a, b`: a and b; empty for `import x`
    text: str  # the source line, for the failure message


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def node_of(module: str) -> str:
    """edcconf.state.local -> edcconf.state; edcconf.fs -> edcconf.fs; edcconf -> edcconf."""
    return ".".join(module.split(".")[:2])


def imports_of(path: Path) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    tree = ast.parse(source, str(path))
    typing_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):  # every level: function-local imports included
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "edcconf":
                    found.append(Import(module, node.lineno, alias.name, (), lines[node.lineno - 1].strip()))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "edcconf":
                continue
            names = tuple(a.name for a in node.names)
            if node.module is None:  # `from . import x`: each name is a module of that package
                for name in names:
                    found.append(Import(module, node.lineno, f"{target}.{name}", (), lines[node.lineno - 1].strip()))
            else:
                found.append(Import(module, node.lineno, target, names, lines[node.lineno - 1].strip()))
    return found


@functools.cache
def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def package_graph(imports: list[Import]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for imp in imports:
        source, target = node_of(imp.module), node_of(imp.target)
        if source == target or target == "edcconf":  # the package root holds only __version__
            continue
        graph.add_edge(source, target)
        graph.edges[source, target].setdefault("imports", []).append(imp)
    return graph


def describe(graph: nx.DiGraph, cycle: list[str]) -> str:
    out = [" -> ".join(cycle + cycle[:1])]
    for a, b in zip(cycle, cycle[1:] + cycle[:1]):
        out.append(f"  {a} -> {b}:")
        out += [f"    {i.module}:{i.line}: {i.text}" for i in graph.edges[a, b]["imports"]]
    return "\n".join(out)


def test_the_graph_sees_top_level_and_function_local_imports():
    # the checks below would pass vacuously on a graph that missed imports
    graph = package_graph(all_imports())
    assert graph.has_edge("edcconf.cli", "edcconf.pipeline")
    assert graph.has_edge("edcconf.validate", "edcconf.diagnostics")
    assert len(graph) > 20


def test_imports_of_reads_relative_and_local_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "edcconf" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("from ..fs import real\ndef f():\n    from ..state import local\n    from . import x\n")
    monkeypatch.setattr(__name__ + ".PACKAGE", tmp_path / "edcconf")
    got = [(i.target, i.names) for i in imports_of(pkg / "mod.py")]
    assert got == [("edcconf.fs", ("real",)), ("edcconf.state", ("local",)), ("edcconf.sub.x", ())]


def test_no_import_cycle_between_packages():
    graph = package_graph(all_imports())
    cycles = sorted(nx.simple_cycles(graph), key=len)
    if cycles:
        shown = "\n\n".join(describe(graph, c) for c in cycles[:10])
        pytest.fail(f"{len(cycles)} import cycle(s) between packages; the shortest:\n\n{shown}")


def test_no_module_imports_a_private_name_from_another_package():
    found = [
        f"{i.module}:{i.line}: {i.text}"
        for i in all_imports()
        if node_of(i.module) != node_of(i.target)
        and (
            any(n.startswith("_") and not n.startswith("__") for n in i.names)
            or any(p.startswith("_") and not p.startswith("__") for p in i.target.split(".")[2:])
        )
    ]
    assert not found, "private names imported from another package:\n" + "\n".join(found)


def test_every_package_and_top_level_module_is_in_architecture_md():
    """ARCHITECTURE.md names every subpackage (`edcconf.x`) and every top-level module (`x`), so a newcomer
    finds each one there."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    package = PACKAGE
    subpackages = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    modules = [p.stem for p in package.glob("*.py") if not p.stem.startswith("__")]
    missing = [f"edcconf.{name}" for name in subpackages if f"`edcconf.{name}`" not in text]
    missing += [name for name in modules if f"`{name}`" not in text]
    assert not missing, f"not in ARCHITECTURE.md: {missing}"
