"""Check the outputs stored in the notebooks (the pages readers see) without executing anything.

    python tools/check_pages.py                  # every notebook in nbs/ and its subfolders
    python tools/check_pages.py nbs/07_rnn.ipynb # some of them

A page fails, named with the reason, when
- stale: its stored outputs were produced by different code: the execution record that `make execute` writes into the
  notebook's metadata (`textmine_execution`) does not match the page's code cells, the textmine modules it imports
  (followed through their own imports), or the committed files under results/ that its cells name;
- unrecorded: it has no execution record (such pages are skipped, not checked, only while PAGES_ALLOW_UNRECORDED=1
  is set: an escape for the time before every page is re-executed with `make execute`);
- empty: a code cell that should show something has no output (see `should_show`; `#| no-output` opts a cell out);
- noisy: a stored output holds stderr, an error, a TensorFlow/absl/oneDNN log line, a warning, a raw progress bar,
  a frozen widget, or a path of the machine that ran it.
"""
import ast, hashlib, json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, LIB, LIB_NAME = ROOT / "nbs", ROOT / "textmine", "textmine"
KEY = "textmine_execution"  # notebook metadata key; listed in settings.ini's allowed_metadata_keys so nbdev_clean keeps it
OPT_OUT = "no-output"  # `#| no-output` on a cell that is meant to print nothing although it looks as if it would
SKIP = {"hide", "export", "exporti", "exports", "default_exp"}  # cells whose output no page shows
RESULTS = re.compile(r"(?<![\w.-])(?:\.\./)*(results/[\w./-]*[\w-])")  # a path under results/ in a cell


def _sha(data: bytes) -> str: return hashlib.sha256(data).hexdigest()[:16]


def _source(cell) -> str: return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def directives(source: str) -> dict:
    "The `#| key: value` lines of a cell, as {key: value}, keys without a trailing colon."
    return {m[1]: m[2].strip() for m in re.finditer(r"^\s*#\|\s*([\w-]+):?[ \t]*(.*)$", source, re.M)}


def code_cells(nb): return [c for c in nb["cells"] if c["cell_type"] == "code"]


# ---------------------------------------------------------------- what produced a page's outputs
def _python(source: str) -> str:
    "A cell's source as plain Python (IPython's `%magic` and `!shell` lines transformed), or '' when it does not parse."
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception: pass
    try: ast.parse(source)
    except SyntaxError: return ""
    return source


def _imported(tree: ast.AST, package: str = "") -> set:
    "The textmine modules (dotted names) that the imports anywhere in `tree` name; `package` resolves relative imports."
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == LIB_NAME}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != LIB_NAME: continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from textmine import core` imports a module
    return found


def _module_file(name: str):
    "The file of textmine module `name`, or None when no such module exists (an imported name, not a module)."
    rel = Path(*name.split("."))
    for f in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if f.is_file(): return f
    return None


def library_files(nb) -> list:
    "The textmine files a notebook's code runs: the modules its cells import or export to, followed through their imports."
    todo, seen = set(), set()
    for cell in code_cells(nb):
        src = _source(cell)
        if "default_exp" in directives(src): todo.add(f"{LIB_NAME}.{directives(src)['default_exp']}")
        py = _python(src)
        if py: todo |= _imported(ast.parse(py))
    files = set()
    while todo:
        name = todo.pop()
        if name in seen: continue
        seen.add(name)
        parts = name.split(".")
        todo |= {".".join(parts[:i]) for i in range(1, len(parts))}  # importing a.b runs a/__init__.py first
        f = _module_file(name)
        if f is None: continue
        files.add(f)
        package = name if f.name == "__init__.py" else ".".join(parts[:-1])
        todo |= _imported(ast.parse(f.read_text(encoding="utf-8")), package)
    resources = LIB / "resources"  # package data the modules read
    if files and resources.is_dir(): files |= {f for f in resources.rglob("*") if f.is_file()}
    return sorted(files)


def _tracked(path: Path) -> list:
    "The files under `path` that git tracks (what a fresh clone has), or the files there when this is no git checkout."
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", str(path)], cwd=ROOT, capture_output=True, check=True).stdout
        return sorted(ROOT / p for p in out.decode().split("\0") if p and (ROOT / p).is_file())
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())


def result_files(nb) -> list:
    "The committed files under results/ that a notebook's code cells name (a folder stands for every file in it)."
    paths = {m for cell in code_cells(nb) for m in RESULTS.findall(_source(cell))}
    return sorted({f for p in paths for f in _tracked(ROOT / p)})


def reads_run_times(nb) -> bool:
    "Whether the notebook shows the recorded run times of the other pages (the index's table does)."
    return any(KEY in _source(c) for c in code_cells(nb))


def pages(folder: Path = None) -> list:
    "Every notebook in `folder` (default nbs/) and its subfolders, as nbdev_test finds them (no _ or . names, no checkpoints)."
    folder = folder or NBS
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts))


def inputs(path: Path, nb=None) -> dict:
    "What a page's outputs depend on, as {name: short SHA-256}: its code cells, library files, results files, and run times."
    nb = nb if nb is not None else json.loads(path.read_text(encoding="utf-8"))
    cells = "\n\0\n".join(_source(c) for c in code_cells(nb))
    out = {"code cells": _sha(cells.encode())}
    for f in library_files(nb) + result_files(nb):
        out[f.relative_to(ROOT).as_posix()] = _sha(f.read_bytes())
    if reads_run_times(nb):  # the run-time table depends on what every other page recorded
        times = {p.relative_to(NBS).as_posix(): recorded(p).get("seconds") for p in pages() if p.resolve() != path.resolve()}
        out["run times"] = _sha(json.dumps(times, sort_keys=True).encode())
    return out


def recorded(path: Path) -> dict:
    "The execution record stored in a notebook's metadata, or {}."
    return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(KEY, {})


def stale(path: Path, nb) -> list:
    "Problems with the execution record of a page: [] when its outputs were produced by its current code."
    rec = nb.get("metadata", {}).get(KEY)
    if not rec:
        return ["unrecorded: no execution record in its metadata; run `make execute NB=<name>` to produce its outputs "
                "(PAGES_ALLOW_UNRECORDED=1 skips unrecorded pages, for the time before every page is re-executed)"]
    now, then = inputs(path, nb), rec.get("inputs", {})
    changed = sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))
    return [f"stale: outputs were produced by different code; changed since `make execute`: {', '.join(changed)}"] if changed else []


# ---------------------------------------------------------------- cells that should show something
PRINTS = {"print", "display", "show", "Markdown", "HTML", "show_doc", "imshow", "plot", "hist", "bar", "barh", "scatter",
          "heatmap", "pprint"}
SILENT_CALL = re.compile(r"^(test_\w*|assert\w*|check_\w*|set_\w+|seed|setattr|exec|append|extend|update|sort|clear|insert|"
                         r"remove|close|savefig|tight_layout|filterwarnings|simplefilter|mkdir|write_text|write_bytes|"
                         r"unlink|rmtree|enable_op_determinism|set_random_seed|sleep|chdir|makedirs|nbdev_export)$")  # return None


def _name(func):
    "The called name of a call's function: `print`, `plt.show` -> `show`."
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _calls_outside_defs(tree) -> set:
    "The names called by a cell's top-level code (not inside the functions and classes it defines)."
    names, stack = set(), list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): continue
        if isinstance(node, ast.Call): names.add(_name(node.func))
        stack.extend(ast.iter_child_nodes(node))
    return names


def should_show(cell) -> str:
    """Why a code cell shown on its page should have an output, or '' when it need not: its last statement is an
    expression that Jupyter displays (not ending in `;`, not a call such as `assert_...` or `x.append` that returns
    None), or its top-level code calls print/display/show/a plotting function. Cells with `#| hide`, `#| export`,
    `#| eval: false`, `#| output: false`, `#| include: false` or `#| no-output` need none."""
    src = _source(cell)
    opts = directives(src)
    if SKIP & opts.keys() or OPT_OUT in opts: return ""
    if any(opts.get(k, "").lower() == "false" for k in ("eval", "output", "include")): return ""
    if re.match(r"\s*%%(capture|writefile)\b", "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("#|"))):
        return ""
    py = _python(src)
    if not py.strip(): return ""
    tree = ast.parse(py)
    if not tree.body: return ""
    called = PRINTS & _calls_outside_defs(tree)
    if called: return f"it calls {', '.join(sorted(called))}"
    last = tree.body[-1]
    code_lines = [l for l in py.rstrip().splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if isinstance(last, ast.Expr) and not (code_lines and code_lines[-1].split("#")[0].rstrip().endswith(";")):
        v = last.value
        if not (isinstance(v, ast.Call) and SILENT_CALL.match(_name(v.func))) and not isinstance(v, (ast.Await, ast.Yield)):
            return "its last line is an expression"
    return ""


def empty(nb) -> list:
    "The cells of a page that should show an output and have none, as messages."
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or cell.get("outputs"): continue
        why = should_show(cell)
        if why:
            first = next((l for l in _source(cell).splitlines() if l.strip() and not l.lstrip().startswith("#|")), "")
            out.append(f"empty: cell {i} has no output although {why} ({first.strip()[:60]!r}); execute the page, or "
                       f"mark the cell `#| {OPT_OUT}` if it is meant to print nothing")
    return out


# ---------------------------------------------------------------- noise in stored outputs
NOISE = [
    ("a TensorFlow/absl log line", re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl|"
                                              r"\bI0000\b|\bW0000\b|oneDNN|WARNING:tensorflow|WARNING:absl", re.M)),
    ("a warning", re.compile(r"\w*Warning: |\bwarnings\.warn\(", re.I)),
    ("a raw progress bar", re.compile(r"\r(?!\n)|\d+%\|[^|\n]*\|\s*\d+/\d+|\d+(\.\d+)?\s*(it/s|s/it)\]|\[=*>?\.*\] - ")),
    ("a path of the machine that ran it", re.compile(r"(/tmp/|/root/|/home/|/work/|/Users/|site-packages|[A-Z]:\\\\Users)")),
]
TEXT_MIMES = ("text/plain", "text/markdown", "text/html", "text/latex", "application/json")


def _texts(out):
    "The text of one stored output: stream text, an error's traceback, or its text-like MIME data."
    if out.get("output_type") == "stream": yield "text", _source({"source": out.get("text", "")})
    elif out.get("output_type") == "error": yield "error", "\n".join(out.get("traceback", []))
    for mime, data in out.get("data", {}).items():
        if mime in TEXT_MIMES or mime.endswith("+json"):
            yield mime, data if isinstance(data, str) else "".join(data) if isinstance(data, list) else json.dumps(data)


def noisy(nb) -> list:
    "The stored outputs of a page that a reader should not see, as messages."
    out = []
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            kind = o.get("output_type")
            if kind == "stream" and o.get("name") == "stderr":
                out.append(f"noisy: cell {i} stores stderr: {_source({'source': o.get('text', '')}).strip()[:80]!r}")
                continue
            if kind == "error":
                out.append(f"noisy: cell {i} stores an error: {o.get('ename')}: {str(o.get('evalue'))[:80]}")
                continue
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):
                out.append(f"noisy: cell {i} stores a widget (a progress bar?): set TQDM_DISABLE=1 when executing")
            for _, txt in _texts(o):
                for what, pattern in NOISE:
                    m = pattern.search(txt)
                    if m:
                        line = txt[max(0, txt.rfind("\n", 0, m.start()) + 1):][:80]
                        out.append(f"noisy: cell {i} shows {what}: {line.strip()!r}")
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- the check
def allow_unrecorded() -> bool:
    "Whether pages without an execution record are skipped (PAGES_ALLOW_UNRECORDED=1): a temporary escape, off by default."
    return os.environ.get("PAGES_ALLOW_UNRECORDED") == "1"


def skipped(path: Path) -> bool:
    "Whether the check skips this page: it has no execution record and PAGES_ALLOW_UNRECORDED=1 is set."
    return allow_unrecorded() and not recorded(Path(path))


def check(path: Path) -> list:
    "Every problem of one page, as messages ([] when it is fine or skipped)."
    if skipped(path): return []
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return stale(Path(path), nb) + empty(nb) + noisy(nb)


def main(argv=None) -> int:
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or pages()
    failed = 0
    for path in paths:
        problems = check(path)
        if problems:
            failed += 1
            name = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
            print(f"{name}:", *(f"  - {p}" for p in problems), sep="\n")
    n_skipped = sum(map(skipped, paths))
    note = f" ({n_skipped} without an execution record skipped: PAGES_ALLOW_UNRECORDED=1)" if allow_unrecorded() else ""
    print(f"check-pages: {failed} of {len(paths)} notebooks failed{note}" if failed else f"check-pages: {len(paths)} notebooks fine{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
