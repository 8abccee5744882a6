"""Build the documentation site, or README.md, from the notebooks in nbs/.

    python docs/build.py           # nbs/ -> _proc/ (nbdev) -> docs/_src/ -> _site/ (mkdocs)
    python docs/build.py --readme  # nbs/index.ipynb -> README.md

Quarto is not needed: nbdev renders the API docs (`show_doc`) into _proc/, this script makes
those notebooks fit for mkdocs-jupyter, and mkdocs-material builds a site that loads nothing
from the network (MathJax comes from the jupyter-server-mathjax package).
"""
import argparse, logging, os, re, shutil
from pathlib import Path

import nbformat, yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROC, SRC = ROOT / "_proc", DOCS / "_src"
IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}  # files beside the notebooks that pages may show
DROP = {"hide", "export", "exporti", "default_exp"}  # cells nbdev keeps out of the docs
CELL_KEYS = {"cell_type", "metadata", "source", "outputs", "execution_count", "attachments"}  # nbformat 4.4
TAGS = {"remove_input_tags": {"hide-input"}, "remove_all_outputs_tags": {"hide-output"}}  # as in mkdocs.yml


def directives(source):
    "The `#| key: value` options of a cell, as a dict of lower-case strings."
    return {m[1]: m[2].strip().lower() for m in re.finditer(r"^\s*#\|\s*([\w-]+):?[ \t]*(.*)$", source, re.M)}


def clean_cells(cells):
    "Drop hidden cells, strip `#|` lines, tag cells whose input or output is hidden, drop non-standard keys."
    kept = []
    for cell in cells:
        opts = directives(cell.source) if cell.cell_type == "code" else {}
        if DROP & opts.keys() or opts.get("include") == "false": continue
        tags = ["hide-input"] * (opts.get("echo") == "false") + ["hide-output"] * (opts.get("output") == "false")
        cell = nbformat.from_dict({k: v for k, v in cell.items() if k in CELL_KEYS})
        cell.metadata = {"tags": tags} if tags else {}  # drops `execution`, `language` and the like
        cell.source = re.sub(r"^\s*#\|.*(\n|$)", "", cell.source, flags=re.M)
        if cell.cell_type == "code" and not cell.source.strip() and not cell.outputs: continue
        kept.append(cell)
    return kept


def front_matter(nb):
    "The YAML front matter of nbdev's leading raw cell (title, description, output-file), or {}."
    cell = nb.cells[0] if nb.cells else None
    m = cell and cell.cell_type == "raw" and re.match(r"\s*---\n(.*?)\n---", cell.source, re.S)
    return (yaml.safe_load(m[1]) or {}) if m else {}


def html_links(md):
    "Quarto's `[text](url){attrs}` links, which nbdev's `show_doc` writes, as HTML links."
    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}", r'<a href="\2" \3>\1</a>', md)


def page_links(md, pages):
    "Links to notebooks (`00_data.ipynb#x`) as links to their pages (`data.html#x`)."
    return re.sub(r'(\]\(|href=")(?:\./)?([\w./-]+\.ipynb)', lambda m: m[1] + pages.get(m[2], m[2]), md)


def page(nb, pages, site_url, depth):
    "One processed notebook made fit for mkdocs-jupyter: a `# title` heading first, clean cells, local links."
    meta = front_matter(nb)
    if meta: nb.cells[0] = nbformat.v4.new_markdown_cell(
        f"# {meta.get('title', '')}\n\n" + (f"> {meta['description']}" if meta.get("description") else ""))
    nb.cells = clean_cells(nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "markdown": cell.source = page_links(html_links(cell.source), pages)
        for out in cell.get("outputs", []):
            if "text/markdown" in out.get("data", {}): out.data["text/markdown"] = html_links(out.data["text/markdown"])
    nb.metadata = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    nb.nbformat_minor = 4  # the cells no longer have ids
    # nbdev links symbols to the published site; point those links at this build instead
    return nbformat.writes(nb).replace(site_url, "../" * depth)


def write_pages():
    "Process nbs/ into _proc/ with nbdev, then write the pages to docs/_src/; returns the sidebar, index first."
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.serve import proc_nbs

    cfg = get_config()
    proc_nbs(cfg.nbs_path)  # what nbdev_proc_nbs does, without trying to install Quarto; incremental
    rels = sorted((p.relative_to(cfg.nbs_path) for p in nbglob(cfg.nbs_path, as_path=True)),
                  key=lambda p: (p.stem != "index", p))  # only notebooks still in nbs/, not stale ones in _proc/
    if not rels: raise SystemExit(f"docs/build.py: no notebooks in {cfg.nbs_path}")
    nbs = {rel: nbformat.read(PROC / rel, as_version=4) for rel in rels}
    # each page keeps nbdev's name (00_data.ipynb -> data.html): the one nbdev's doc links use
    names = {rel: rel.with_name(front_matter(nb).get("output-file", rel.name)).with_suffix(".ipynb") for rel, nb in nbs.items()}
    pages = {rel.as_posix(): name.with_suffix(".html").as_posix() for rel, name in names.items()}
    site_url = f"{cfg.doc_host}{cfg.doc_baseurl}".rstrip("/") + "/"
    shutil.rmtree(SRC, ignore_errors=True)
    for rel, nb in nbs.items():
        (SRC / names[rel]).parent.mkdir(parents=True, exist_ok=True)
        (SRC / names[rel]).write_text(page(nb, pages, site_url, len(rel.parts) - 1), encoding="utf-8")
    for f in PROC.rglob("*"):  # pictures that markdown cells show
        if f.suffix.lower() in IMAGES:
            (SRC / f.relative_to(PROC)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, SRC / f.relative_to(PROC))
    return [name.as_posix() for name in names.values()]


def copy_assets():
    "Put MathJax (from the jupyter-server-mathjax package) and the search polyfill into docs/_src/assets/."
    try: import jupyter_server_mathjax
    except ImportError: raise SystemExit("docs/build.py needs MathJax: pip install jupyter-server-mathjax==0.2.6")
    mathjax = SRC / "assets" / "mathjax"
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", mathjax)
    (mathjax / "config" / "local").mkdir(parents=True)
    shutil.copy(DOCS / "mathjax-local.js", mathjax / "config" / "local" / "textmine.js")  # our MathJax settings
    shutil.copy(DOCS / "iframe-worker.js", SRC / "assets")  # lets search run from disk (file://)


def build_site():
    "Write docs/_src/ and build _site/ from it with mkdocs."
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
    nav = write_pages()
    copy_assets()
    logging.basicConfig(format="%(levelname)-7s -  %(message)s")
    logging.getLogger("mkdocs").setLevel(logging.INFO)
    config = load_config(str(DOCS / "mkdocs.yml"), nav=nav)  # `mkdocs build`, with the sidebar in chapter order
    config.plugins.on_startup(command="build", dirty=False)
    try: build(config)
    finally: config.plugins.on_shutdown()


def build_readme():
    "Render nbs/index.ipynb as GitHub markdown into README.md (what `jupyter nbconvert --to markdown` does)."
    from nbconvert import MarkdownExporter
    from traitlets.config import Config

    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    nb.cells, nb.nbformat_minor = clean_cells(nb.cells), 4
    for cell in nb.cells:  # relative links and pictures point into nbs/, where the notebook is
        if cell.cell_type == "markdown": cell.source = re.sub(r'(\]\(|src="|href=")(?![a-z]+:|#|/)', r"\1nbs/", cell.source)
    exporter = MarkdownExporter(config=Config(TagRemovePreprocessor={"enabled": True, **TAGS}))
    body, resources = exporter.from_notebook_node(nb, resources={"output_files_dir": "README_files"})
    for name, data in resources["outputs"].items():  # plots, if the index has any
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_bytes(data)
    body = re.sub(r"\n{3,}", "\n\n", re.sub(r"(?m)^[ \t]+$", "", body))  # no blank lines of spaces, no runs of them
    (ROOT / "README.md").write_text(body.strip() + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write README.md from nbs/index.ipynb instead")
    build_readme() if parser.parse_args().readme else build_site()
