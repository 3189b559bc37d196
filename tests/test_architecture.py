"""The package's boundaries, checked from the source: no import cycle inside `app/`, and
Streamlit only where the pages live (the domain must stay importable in a CLI, a worker process
or a test without a Streamlit runtime)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app"
STREAMLIT_HOMES = ("app/ui/", "app_pages/", "streamlit_app.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in APP.rglob("*.py")}


def _imports(path: Path, module: str, known: set[str] | dict[str, Path] = frozenset()) -> Iterator[str]:
    """Every module `path` imports, at any depth (function-level imports included: an import
    inside a function that only avoids a cycle is still a cycle), TYPE_CHECKING blocks excepted."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    type_checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_checking.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            # `from pkg import mod` depends on pkg.mod; `from mod import name` on mod itself.
            for alias in node.names:
                yield f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in known else base_name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {target for target in _imports(path, name, modules) if target in modules and target != name}
        for name, path in modules.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_app_package_has_no_import_cycle():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle_hidden_inside_a_function(tmp_path: Path):
    # The checker itself must see function-level imports, or the test above proves nothing.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from app.emotions import FACE_LABELS\n")
    assert "app.emotions" in set(_imports(probe, "app.probe"))


def _imports_streamlit(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        if any(n == "streamlit" or n.startswith(("streamlit.", "streamlit_webrtc")) for n in names):
            return True
    return False


def test_streamlit_is_imported_only_by_the_ui_the_pages_and_the_entry_script():
    offenders = [
        str(p.relative_to(REPO))
        for p in [*APP.rglob("*.py"), *REPO.joinpath("app_pages").rglob("*.py"), REPO / "streamlit_app.py"]
        if _imports_streamlit(p) and not str(p.relative_to(REPO)).startswith(STREAMLIT_HOMES)
    ]
    assert offenders == []
