"""Guards on the package's structure: no import cycles, no overlong functions.

Both read the source with :mod:`ast` (nothing is imported), so they see every import and
every function, including those that only run in some configurations.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "accord"
SRC = PACKAGE.parent

MAX_FUNCTION_LINES = 80
# Route-table builders: module-level functions in a sandbox vendor's package (any module
# under src/accord/sandbox/<vendor>/) whose name ends in this suffix, e.g. ``_admin_routes``.
ROUTE_TABLE_SUFFIX = "_routes"


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` itself when it is one of the package's modules, else its longest such prefix."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@dataclass(frozen=True)
class _Edge:
    target: str
    line: int


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[_Edge]:
    """The package's modules ``module`` imports, at any depth of its tree (function bodies and
    ``if TYPE_CHECKING:`` blocks included). ``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module, else ``pkg``; a submodule does not implicitly import
    its parent package."""
    is_package = path.name == "__init__.py"
    edges: list[_Edge] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str | None] = []
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name, modules) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for a in node.names:
                full = f"{base}.{a.name}"
                targets.append(full if full in modules else _resolve(base, modules))
        edges += [_Edge(t, node.lineno) for t in targets if t is not None and t != module]
    return list(dict.fromkeys(edges))  # one per imported module and line


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    """No import cycle among src/accord's modules, counting imports inside functions and
    under ``TYPE_CHECKING`` (a cycle there still ties the modules' designs together)."""
    modules = _modules()
    edges = {m: _imports(m, p, modules) for m, p in modules.items()}
    graph = {m: {e.target for e in es} for m, es in edges.items()}
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    report = []
    for component in cycles:
        members = set(component)
        lines = [f"  {m} -> {e.target}  ({modules[m].relative_to(SRC.parent)}:{e.line})"
                 for m in component for e in edges[m] if e.target in members]
        report.append(f"cycle among {', '.join(component)}:\n" + "\n".join(lines))
    assert not cycles, "import cycles:\n" + "\n".join(report)


def _route_table(path: Path, name: str, top_level: bool) -> bool:
    """A sandbox's route-table builder, exempt from the length limit: a module-level function
    in a module under src/accord/sandbox/<vendor>/ named ``*_routes``. It registers one
    handler after another on an app (each handler is still held to the limit)."""
    parts = path.relative_to(PACKAGE).parts
    return top_level and len(parts) >= 3 and parts[0] == "sandbox" and name.endswith(ROUTE_TABLE_SUFFIX)


def test_no_long_functions() -> None:
    """No function (``def`` or ``async def``, methods and nested functions included) in
    src/accord spans more than 80 lines, from its ``def`` line to its last line.

    The one exemption is a sandbox's route table: a module-level function in a module under
    ``src/accord/sandbox/<vendor>/`` whose name ends in ``_routes`` (e.g. ``_admin_routes``)
    may be longer, as it is a flat list of route handlers; the handlers nested in it, and
    every other function of the sandboxes (``build_app`` included), are held to the limit.
    """
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _route_table(path, node.name, id(node) in top_level):
                too_long.append(f"  {path.relative_to(SRC.parent)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, f"functions longer than {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)
