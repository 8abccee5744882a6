"""nbs/*.ipynb -> _proc/*.ipynb with the API docs (`show_doc`) rendered, running no cell that loads data or fits a model.

nbdev's `nbdev_proc_nbs` runs every export cell, every `show_doc` cell and every cell that holds an import, whole:
a cell that imports a module and then loads a corpus or fits a model runs too. Here the same nbdev processors run,
but the cell runner executes only
- export cells (`#| export`, `exports`, `exporti`, `exec_doc`): they define what the docs show;
- cells made of `show_doc(...)` calls, whose fresh output replaces the stored one;
- the import statements of any other cell, not the rest of it;
every other cell keeps the outputs stored in the notebook. After each class's entry the build adds an entry for every
public method the class defines, and classes without an `__init__` of their own show the arguments they really take.
"""
import ast, inspect, os, re, warnings
from pathlib import Path

EXEC = {"export", "exports", "exporti", "exec_doc"}
# Keras' and scikit-learn's protocol methods a class defines for the framework, not for the reader
PROTOCOL = {"build", "get_config", "from_config", "compute_output_shape", "compute_mask", "train_step", "test_step",
            "metrics", "get_build_config", "build_from_config"}
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}  # no numbers are computed


def _top(cell):
    "The statements of a code cell, or [] when it does not parse."
    try: return ast.parse(cell.source).body
    except SyntaxError: return []


def _is_show_doc(node): return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "show_doc"


def needed(cell):
    "What of `cell` the docs need to run: 'all', 'show_doc' (run and keep its output), the source of its imports, or None."
    if cell.cell_type != "code" or not cell.source.strip() or "nbdev_export()" in cell.source: return None
    if cell.directives_.get("eval:", [""])[0].lower() == "false": return None
    if EXEC & cell.directives_.keys(): return "all"
    body = _top(cell)
    if body and all(_is_show_doc(n) for n in body): return "show_doc"
    imports = [ast.get_source_segment(cell.source, n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(imports) or None


RENDERER = [None]


def renderer():
    "nbdev's markdown renderer for `show_doc`, with the fixes the site needs."
    from nbdev.config import get_config
    from nbdev.showdoc import BasicMarkdownRenderer
    lib = get_config().lib_name

    class Renderer(BasicMarkdownRenderer):
        def __init__(self, sym, name=None, title_level=3, maxline=110):
            super().__init__(sym, name=name, title_level=title_level, maxline=maxline)
            if not inspect.isclass(self.sym): return
            owner = next(c for c in self.sym.__mro__ if "__init__" in vars(c))
            if owner.__module__.split(".")[0] not in (lib, "__main__"):  # __init__ from object or Keras, not the book
                base = f"{owner.__module__.split('.')[0]}.{owner.__qualname__}"
                self.dm = (f"class {self.sym.__name__}()" if owner is object else
                           f"class {self.sym.__name__}(\n    **kwargs, # passed on to `{base}` (e.g. `name`)\n)")

        def _repr_markdown_(self):
            md = super()._repr_markdown_().replace("#LNone)", ")")  # nbdev finds no line for some classes
            return md.replace("```python\ndef ", "```python\nclass ", 1) if inspect.isclass(self.sym) else md
    return Renderer


def processors():
    "nbdev's processors for the docs, with the cell runner replaced and method entries added."
    from nbdev.process import Processor
    from nbdev.processors import FilterDefaults, add_show_docs, exec_show_docs, mk_cell, _show_docs, _get_nm

    class add_method_docs(Processor):
        "After the entry of each exported public class, an entry for each public method it defines that has none."
        def begin(self):
            cells = self.nb.cells
            shown = {_get_nm(t) for c in cells if c.cell_type == "code" for t in _show_docs(_top(c))}
            classes = [n for c in cells if c.cell_type == "code" and EXEC & c.directives_.keys() and "hide" not in c.directives_
                       for n in _top(c) if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
            for cls in classes:
                at = next((c.idx_ for c in cells if c.cell_type == "code" and f"show_doc({cls.name})" in c.source.replace(" ", "")), None)
                if at is None: continue
                methods = [f"{cls.name}.{f.name}" for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                           and not f.name.startswith("_") and f.name not in PROTOCOL and not f.name.startswith("on_")]
                new = [m for m in methods if m not in shown]
                for m in reversed(new):
                    cell = mk_cell(f"show_doc({m}, title_level=4)")
                    cell.has_sd = True
                    cells.insert(at + 1, cell)
                for i, c in enumerate(cells): c.idx_ = i

    class exec_docs(exec_show_docs):
        "Run only what `show_doc` needs (see the module's docstring)."
        def begin(self):
            import nbdev.showdoc
            RENDERER[0] = RENDERER[0] or renderer()  # made once per process, from nbdev's own renderer
            nbdev.showdoc.BasicMarkdownRenderer = RENDERER[0]  # the default of show_doc, whatever a cell imports
            super().begin()

        def __call__(self, cell):
            if not getattr(self.nb, "has_docs_", None) or not hasattr(self, "k"): return
            what = needed(cell)
            if what is None: return
            if what == "show_doc": self.k.cell(cell)
            else: self.k.run_cell(cell.source if what == "all" else what)
            if self.k.exc:
                raise RuntimeError(f"docs: cell {cell.idx_} of {self.nb.path_ if hasattr(self.nb, 'path_') else 'a notebook'} "
                                   f"failed:\n{cell.source}") from self.k.exc

    class Filter(FilterDefaults):
        def base_procs(self):
            procs = super().base_procs()
            procs = [exec_docs if p is exec_show_docs else p for p in procs]
            return procs[:procs.index(add_show_docs) + 1] + [add_method_docs] + procs[procs.index(add_show_docs) + 1:]
    return Filter


def process(src, dst):
    "Process one notebook `src` into `dst` (run in a worker process)."
    for k, v in QUIET.items(): os.environ.setdefault(k, v)
    os.environ["IN_TEST"] = "1"
    warnings.filterwarnings("ignore")  # the build prints nothing; problems raise
    from execnb.nbio import read_nb, write_nb
    nb = read_nb(src)
    processors()()(nb)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dst)
    return str(src)


def proc_nbs(nbs_path, proc_path, sources, n_workers=2):
    "Process the notebooks of `nbs_path` that changed since their copy in `proc_path` (or since `sources` changed)."
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    newest = max(Path(s).stat().st_mtime for s in sources)
    todo = [(s, proc_path / s.relative_to(nbs_path)) for s in sorted(nbs_path.rglob("*.ipynb"))
            if not any(p.startswith((".", "_")) for p in s.relative_to(nbs_path).parts)]
    todo = [(s, d) for s, d in todo if not d.exists() or d.stat().st_mtime < max(s.stat().st_mtime, newest)]
    if not todo: return
    for k, v in QUIET.items(): os.environ.setdefault(k, v)  # inherited by the workers
    with ProcessPoolExecutor(min(n_workers, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(process, *zip(*todo)))
