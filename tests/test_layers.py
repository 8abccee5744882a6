"""textmine's import layers (core < book modules < toolkit < cli), checked by import-linter as `make lint` does, and shown
to fail when a module imports upward or two modules of one layer import each other."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    "lint-imports with the contracts of `cwd`/.importlinter, on the textmine package found in `cwd`."
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": str(LINT.parent), "PYTHONPATH": str(cwd)})


@pytest.fixture
def copy(tmp_path):
    "A copy of the package and its contracts, to break on purpose."
    shutil.copytree(ROOT / "textmine", tmp_path / "textmine", ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    return tmp_path


def test_the_contracts_hold():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_a_book_module_importing_the_toolkit_breaks_the_layers(copy):
    data = copy / "textmine" / "data.py"
    data.write_text(data.read_text() + "\nfrom textmine.bench.common import mean_std\n")
    r = lint(copy)
    assert r.returncode != 0 and "core < book modules < toolkit < cli BROKEN" in r.stdout, r.stdout


def test_two_book_modules_importing_each_other_break_the_acyclic_contract(copy):
    pre = copy / "textmine" / "preprocess.py"  # cluster already imports baselines, which imports preprocess
    pre.write_text(pre.read_text() + "\nimport textmine.cluster\n")
    r = lint(copy)
    assert r.returncode != 0 and "no import cycles among the modules of any layer" in r.stdout and "BROKEN" in r.stdout, r.stdout
    assert "core < book modules < toolkit < cli KEPT" in r.stdout   # siblings of one layer: only the cycle contract sees it


def test_no_textmine_import_is_hidden_inside_a_function():
    "Imports of textmine modules sit at the top of each module, where the contracts and a reader see them."
    hidden = []
    for path in sorted((ROOT / "textmine").rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("textmine")):
                    hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(node, ast.Import) and any(a.name.startswith("textmine") for a in node.names):
                    hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, hidden
