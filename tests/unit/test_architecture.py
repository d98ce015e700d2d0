"""The package's shape (docs/architecture.md): layers kept, no import cycle, small modules, visible imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "medseg"
MAX_LINES = 400


def _graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("medseg")  # every import statement, function-level ones included


def test_layers_contract_is_kept():
    pytest.importorskip("importlinter")
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_no_import_cycle_counting_function_level_imports():
    graph = _graph()
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != "medseg" and graph.chain_exists(imported, module):
                cycles.append(graph.find_shortest_chain(imported, module) + (imported,))
    assert not cycles, cycles[:5]


def test_a_cycle_would_be_found(tmp_path):
    """The cycle test sees imports inside functions (what the package used to have: bundles → export → bundles)."""
    grimp = pytest.importorskip("grimp")
    package = tmp_path / "cyc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from cyc.b import g\n    return g\n")
    (package / "b.py").write_text("from cyc.a import f\n\ndef g():\n    return f\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("cyc", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert graph.chain_exists("cyc.a", "cyc.b") and graph.chain_exists("cyc.b", "cyc.a")


def test_no_module_over_400_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not long, long


def test_medseg_imports_sit_at_the_top_of_modules():
    """Only the CLI imports medseg lazily (``medseg --help`` must not load torch); elsewhere the graph is visible."""
    hidden = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    names = [inner.module or ""] if isinstance(inner, ast.ImportFrom) else \
                        [a.name for a in inner.names] if isinstance(inner, ast.Import) else []
                    if any(n == "medseg" or n.startswith("medseg.") for n in names):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not hidden, hidden
