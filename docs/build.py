"""Build the documentation site, or README.md, from the notebooks in nbs/.

    python docs/build.py           # nbs/ -> _proc/ (nbdev) -> docs/_src/ -> _site/ (mkdocs)
    python docs/build.py --readme  # nbs/index.ipynb -> README.md

Quarto is not needed: nbdev renders the API docs (`show_doc`) into _proc/, this script makes
those notebooks fit for mkdocs-jupyter, and mkdocs-material builds a site that loads nothing
from the network (MathJax comes from the jupyter-server-mathjax package).
"""
import argparse, base64, html as htmlmod, logging, os, posixpath, re, shutil
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
        alt = re.search(r"^\s*#\|\s*fig-(?:alt|cap):[ \t]*(.+)$", cell.source, re.M)  # Quarto's figure options
        cell.metadata = {"tags": tags} if tags else {}  # drops `execution`, `language` and the like
        if alt: cell.metadata["alt"] = alt[1].strip().strip("\"'")
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


def page_links(md, pages, here=""):
    """Links to notebooks (`00_data.ipynb#x`) as links to their pages (`data.html#x`), relative to the folder `here`
    (under nbs/) of the page that links: `solutions/00_data_solutions.ipynb` from a chapter, `../00_data.ipynb` back
    from a solution; a link nbdev made inside the text of a link the author wrote (``[[`name`](doc)](page)``) is
    dropped, the author's link is kept."""
    md = re.sub(r"\[\[(`[^`\]]+`(?:\(\))?)\]\([^)\s]+\)\]\(", r"[\1](", md)

    def link(m):
        target = pages.get(posixpath.normpath(posixpath.join(here, m[2])))
        return m[1] + (posixpath.relpath(target, here or ".") if target else m[2])
    return re.sub(r'(\]\(|href=")(?:\./)?([\w./-]+\.ipynb)', link, md)


HEADING = re.compile(r"^(#{1,6})(?=[ \t])", re.M)
PLOTS = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


def demote(md, level):
    "Markdown `md` (a report a cell printed or displayed) with its headings moved below a section of `level`."
    top = min((len(m[1]) for m in HEADING.finditer(md)), default=None)
    if top is None or top > level: return md
    return HEADING.sub(lambda m: "#" * min(6, len(m[1]) - top + level + 1), md)


def plain_code_links(md):
    "Markdown links inside the code blocks of `show_doc` (nbdev links names in parameter comments too) as plain names."
    return re.sub(r"```python\n.*?```", lambda m: re.sub(r"\[`?([^\]`]+)`?\]\([^)\s]*\)(\{[^}]*\})?", r"\1", m[0]), md, flags=re.S)


def strong_cells(html):
    "`**x**` in the cells of a pandas table (markdown a table shows as text) as bold."
    return re.sub(r"(<t[dh]\b[^>]*>)\s*\*\*([^*<]+)\*\*\s*(</t[dh]>)", r"\1<strong>\2</strong>\3", html)


def opening(nb):
    "The prose of a notebook's first markdown cell after its `# title` and `> description`, which nbdev's front matter drops."
    cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if cell is None or not cell.source.lstrip().startswith("# "): return ""
    paras = re.split(r"\n\s*\n", cell.source.strip())[1:]
    if paras and paras[0].lstrip().startswith(">"): paras = paras[1:]
    return "\n\n".join(paras)


def text(src): return "".join(src) if isinstance(src, list) else src


def outputs(cell, level, section):
    "Fix a code cell's outputs for the page: reports as markdown below the current section, alt text for plots, bold cells."
    outs = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout" and re.match(r"\s*# \S", text(out.text)):
            out = nbformat.v4.new_output("display_data", data={"text/markdown": text(out.text)})  # a printed report
        data = out.get("data", {})
        if "text/markdown" in data:
            md = html_links(text(data["text/markdown"]))
            data["text/markdown"] = plain_code_links(md) if md.startswith("---") else demote(md, level)
        if "text/html" in data: data["text/html"] = strong_cells(text(data["text/html"]))
        mime = next((m for m in PLOTS if m in data and "text/html" not in data), None)
        if mime:  # as an <img> with alt text: nbconvert's template has no alt for plots
            meta = out.get("metadata", {}).get(mime, {})
            alt = meta.get("alt") or cell.metadata.get("alt") or f"Figure drawn by the code above, in the section “{section}”"
            src = f"data:{mime};base64,{text(data[mime]).strip()}" if mime != "image/svg+xml" else \
                "data:image/svg+xml;base64," + base64.b64encode(text(data[mime]).encode()).decode()
            size = "".join(f' {k}="{meta[k]}"' for k in ("width", "height") if k in meta)
            data.clear()
            data["text/html"] = f'<img src="{src}" alt="{htmlmod.escape(alt)}"{size}>'
        outs.append(out)
    cell.outputs = outs


def page(nb, pages, site_url, here="", intro=""):
    "One processed notebook made fit for mkdocs-jupyter: a `# title` heading first, clean cells, local links."
    meta = front_matter(nb)
    if meta: nb.cells[0] = nbformat.v4.new_markdown_cell(
        f"# {meta.get('title', '')}\n\n" + (f"> {meta['description']}" if meta.get("description") else "")
        + (f"\n\n{intro}" if intro else ""))
    nb.cells = clean_cells(nb.cells)
    level, section = 1, meta.get("title", "")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = page_links(html_links(cell.source), pages, here)
            for m in re.finditer(r"^(#{1,6})[ \t]+(.+)$", cell.source, re.M): level, section = len(m[1]), m[2].strip()
            cell.source = re.sub(r"!\[\]\(([^)]+)\)", lambda m: f"![{Path(m[1]).stem.replace('_', ' ').replace('-', ' ')}]({m[1]})", cell.source)
        if cell.cell_type == "code": outputs(cell, level, section)
    nb.metadata = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    nb.nbformat_minor = 4  # the cells no longer have ids
    # nbdev links symbols to the published site; point those links at this build instead
    return nbformat.writes(nb).replace(site_url, "../" * len(Path(here).parts))


def write_pages():
    "Process nbs/ into _proc/ with nbdev, then write the pages to docs/_src/; returns the sidebar, index first, subfolders as sections."
    from nbdev.config import get_config
    from nbdev.doclinks import NbdevLookup, nbglob
    from procnbs import proc_nbs

    cfg = get_config()
    # what nbdev_proc_nbs does, running only export, import and show_doc code; incremental
    proc_nbs(cfg.nbs_path, PROC, [DOCS / "build.py", DOCS / "procnbs.py", *(ROOT / cfg.lib_name).glob("*.py")])
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
        intro = opening(nbformat.read(cfg.nbs_path / rel, as_version=4))
        here = rel.parent.as_posix() if rel.parent.parts else ""
        if intro: intro = page_links(NbdevLookup().linkify(intro), pages, here)
        (SRC / names[rel]).write_text(page(nb, pages, site_url, here, intro), encoding="utf-8")
    for f in cfg.nbs_path.rglob("*"):  # pictures that markdown cells show
        if f.suffix.lower() in IMAGES and not any(p.startswith((".", "_")) for p in f.relative_to(cfg.nbs_path).parts):
            (SRC / f.relative_to(cfg.nbs_path)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, SRC / f.relative_to(cfg.nbs_path))
    return sidebar([name for name in names.values()])


def sidebar(names):
    "The pages of nbs/ (index first, then the chapters) and, after them, one section per subfolder (`Solutions`)."
    top = [n.as_posix() for n in names if len(n.parts) == 1]
    folders = dict.fromkeys(n.parts[0] for n in names if len(n.parts) > 1)
    return top + [{f.replace("_", " ").capitalize(): [n.as_posix() for n in names if n.parts[0] == f]} for f in folders]


def copy_assets():
    "Put MathJax (from the jupyter-server-mathjax package) and the search polyfill into docs/_src/assets/."
    try: import jupyter_server_mathjax
    except ImportError: raise SystemExit("docs/build.py needs MathJax: pip install jupyter-server-mathjax==0.2.6")
    mathjax = SRC / "assets" / "mathjax"
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", mathjax)
    (mathjax / "config" / "local").mkdir(parents=True)
    shutil.copy(DOCS / "mathjax-local.js", mathjax / "config" / "local" / "textmine.js")  # our MathJax settings
    for f in (DOCS / "assets").iterdir(): shutil.copy(f, SRC / "assets")  # the site's CSS and JS; iframe-worker.js lets search run from disk


def build_site():
    "Write docs/_src/ and build _site/ from it with mkdocs."
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    os.chdir(ROOT)  # nbdev finds settings.ini from the working directory
    nav = write_pages()
    copy_assets()
    logging.basicConfig(format="%(levelname)-7s -  %(message)s")
    logging.getLogger("mkdocs").setLevel(logging.WARNING)  # a clean build prints nothing
    try:  # the search plugin segments the Chinese pages with jieba, which logs its start-up at DEBUG
        import jieba
        jieba.setLogLevel(logging.WARNING)
    except ImportError: pass
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
