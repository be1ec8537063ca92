"""The package's layering: lower layers never import higher ones, and no module imports
itself back through others (issue 20.13: config imported the model registry, data/dataset.py
and data/sequence.py imported each other)."""

import ast
from pathlib import Path

import ssrec

ROOT = Path(ssrec.__file__).parent
# a module may import modules of its own layer or of lower layers only
LAYERS = [
    {"errors", "registry", "utils"},
    {"config"},
    {"data"},
    {"sampling", "augment", "losses"},
    {"models"},
    {"evaluation"},
    {"training"},
    {"experiments", "serving", "diagnostics"},
    {"tuning"},
    {"cli", "cli_tools", "__main__"},
]


def _modules() -> dict[str, set[str]]:
    """``{module: {imported ssrec modules}}``, counting imports inside functions and under
    ``TYPE_CHECKING`` too."""
    names = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {}
    for mod, path in names.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module in names:
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names
                            if f"{node.module}.{a.name}" in names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in names)
        graph[mod] = deps - {mod}
    return graph


def _layer(mod: str) -> int:
    top = mod.split(".")[1] if "." in mod else ""
    for k, layer in enumerate(LAYERS):
        if top in layer:
            return k
    return -1  # the package itself


def test_lower_layers_never_import_higher_ones():
    bad = [f"{m} -> {d}" for m, deps in _modules().items() for d in deps
           if _layer(m) >= 0 and _layer(d) > _layer(m)]
    assert bad == []


def test_no_import_cycles():
    graph = _modules()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []
