"""The shape of the library: small files, public names only across modules, straight imports.

The map in ``minime/__init__.py`` is the contract: data flows left to right, and a module imports
only from layers to its left. These tests read the source (``ast``), import nothing of minime.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "minime"
FILES = sorted(ROOT.rglob("*.py"))
MAX_LINES = 300

#: Each top-level part of minime and its layer: a module may import from lower layers and from
#: its own part only. Siblings (interaction / experts, train / analysis) do not import each other.
LAYERS = {
    "metrics": 0, "progress": 0,
    "data": 1,
    "embedding": 2,
    "blocks": 3,
    "interaction": 4, "experts": 4, "encoders": 4,
    "models": 5, "optimizers": 5,
    "train": 6, "analysis": 6,
    "plots": 7,
    "studies": 8,
    "notebook": 9, "widgets": 9,
}


def module_name(path: Path) -> str:
    parts = ("minime", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, names, line)`` of every minime import in a file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("minime"):
                out.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("minime")]
    return out


def part(module: str) -> str:
    """The top-level part of a minime module: ``minime.models.single`` -> ``models``."""
    return module.split(".")[1] if module.count(".") else ""


def test_every_file_has_at_most_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in FILES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_no_module_imports_a_private_name_from_another_module():
    found = []
    for path in FILES:
        own = module_name(path)
        for target, names, line in imports(path):
            found += [f"{path.relative_to(ROOT)}:{line} imports {target}.{n}"
                      for n in names if n.startswith("_") and target != own]
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minime")
                   for a in node.names}
        found += [f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}"
                  for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in aliases and node.attr.startswith("_")
                  and not node.attr.startswith("__")]
    assert not found, "private names crossing modules:\n" + "\n".join(found)


def test_every_import_goes_to_a_lower_layer_or_the_same_part():
    parts = {part(module_name(p)) for p in FILES} - {""}
    assert parts == set(LAYERS), f"parts without a layer (or layers without a part): {parts ^ set(LAYERS)}"
    backwards = []
    for path in FILES:
        source = part(module_name(path))
        for target, _, line in imports(path):
            goal = part(target)
            if source and goal and goal != source and LAYERS[goal] >= LAYERS[source]:
                backwards.append(f"{path.relative_to(ROOT)}:{line}: {source} -> {goal}")
    assert not backwards, "imports that cross the map backwards or sideways:\n" + "\n".join(backwards)


def test_no_import_cycle_between_modules_or_packages():
    modules = {module_name(p) for p in FILES}

    def resolve(target: str, names: list[str]) -> list[str]:
        """The modules an import loads: ``from pkg import sub`` loads ``pkg.sub`` too."""
        found = [target] if target in modules else []
        return found + [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]

    for level in ("module", "package"):
        graph: dict[str, set[str]] = {}
        for path in FILES:
            source = module_name(path)
            for target, names, _ in imports(path):
                for goal in resolve(target, names):
                    a, b = (source, goal) if level == "module" else (
                        _package(source, modules), _package(goal, modules))
                    if a != b:
                        graph.setdefault(a, set()).add(b)
        cycle = _find_cycle(graph)
        assert cycle is None, f"{level} import cycle: {' -> '.join(cycle)}"


def _package(module: str, modules: set[str]) -> str:
    """A module's package (``minime.models``), or the module itself for a top-level file."""
    parent = module.rsplit(".", 1)[0]
    return parent if parent != "minime" and parent in modules else module


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node, stack):
        state[node] = 1
        for goal in sorted(graph.get(node, ())):
            if state.get(goal) == 1:
                return stack[stack.index(goal):] + [goal]
            if goal not in state and (found := visit(goal, stack + [goal])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


@pytest.mark.parametrize("path", [p for p in FILES if not p.name.startswith("_")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_public_module_declares_all(path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__"
                                                    for t in node.targets)
               for node in tree.body), f"{path.relative_to(ROOT)} has no __all__"


def test_the_checks_see_a_violation():
    """The walkers find what they look for (so a pass means something)."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    found = imports(ROOT / "studies" / "geometry.py")
    assert ("minime.studies.entanglement", ["single_label"], found[-2][2]) in found
