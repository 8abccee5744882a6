"""The documentation site: built from the notebooks as `make docs` builds it, checked to load nothing
from the network, and read in headless Chromium to see that equations and plots really render."""
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE, SRC = ROOT / "_site", ROOT / "docs" / "_src"
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)
PLOT = ("image/png", "image/jpeg", "image/svg+xml")
PICTURE = re.compile(r"!\[[^\]]*\]\([^)]+\)|<img\b")  # an image in a markdown cell

pytestmark = pytest.mark.docs  # the docs/browser test: `pytest -m docs` runs only this file


@pytest.fixture(scope="module")
def site():
    "Build the site once for this module, with the interpreter running the tests (docs/build.py runs nbdev too)."
    r = subprocess.run([sys.executable, "docs/build.py"], cwd=ROOT, capture_output=True, encoding="utf-8", timeout=900)
    assert r.returncode == 0, f"docs/build.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return SITE


def chapters():
    "The numbered chapters in sidebar order, as (built page, notebook it was built from)."
    names = [re.sub(r"^\d+[a-zA-Z0-9]*_", "", p.stem.lower()) for p in sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))]
    return [(SITE / f"{n}.html", nbformat.read(SRC / f"{n}.ipynb", as_version=4)) for n in names]  # nbdev's names


def n_math(nb):
    "How many TeX snippets the markdown cells of `nb` hold."
    return sum(len(MATH.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")


def n_images(nb):
    "How many images `nb` shows: image outputs (plots) of code cells and images in markdown cells."
    plots = sum(any(k in o.get("data", {}) for k in PLOT) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return plots + sum(len(PICTURE.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")


class Loads(HTMLParser):
    "The addresses an HTML page loads: every `src`, and the `href` of <link> elements other than canonical ones."
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("src"): self.urls.append(a["src"])
        if tag == "link" and a.get("rel") not in ("canonical", "alternate") and a.get("href"): self.urls.append(a["href"])


def test_pages_load_nothing_from_the_network(site):
    "No page loads a script, style sheet, font or image from another host (a CDN): the site works offline."
    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html") in pages and (site / "assets" / "mathjax" / "MathJax.js").is_file()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        parser = Loads()
        parser.feed(html)
        remote = [u for u in parser.urls if re.match(r"(https?:)?//", u)]
        remote += re.findall(r"""(?:url\(|@import|import\()\s*["']?(?:https?:)?//[^"')\s]+""", html)  # CSS and JS
        assert not remote, f"{page.relative_to(site)} loads from the network: {remote}"


def test_links_between_pages_resolve(site):
    "Every relative link of a page points at a file of the site (a notebook link became a page link)."
    for page in sorted(set(site.glob("*.html")) - {site / "404.html"}):  # 404.html links from the server's root
        for href in re.findall(r'<a\b[^>]*?\bhref="([^"]+)"', page.read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+:|#|//", href):  # a file of the site, e.g. data.html#load_dataset
                assert (page.parent / href.split("#")[0].split("?")[0]).exists(), f"{page.name}: broken link {href}"


def test_sidebar_lists_the_notebooks_in_order(site):
    "The sidebar starts with the index, then the numbered chapters in file-name order."
    html = (site / "index.html").read_text(encoding="utf-8")
    nav = html[html.index('data-md-type="navigation"'):]
    hrefs = list(dict.fromkeys(re.findall(r'<a href="([^"#]+)" class="md-nav__link', nav)))
    assert hrefs[:len(chapters()) + 1] == ["index.html"] + [p.name for p, _ in chapters()]


def chromium():
    "The headless browser's executable; fails under CI and skips elsewhere when there is none."
    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if exe: return exe
    msg = "Chromium not found: `make browser` (or apt-get install chromium) to run the docs browser test"
    pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)


@functools.lru_cache
def dom(page):
    "The page's DOM after its scripts ran (MathJax included), from headless Chromium on file://."
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                           capture_output=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0 and "</html>" in r.stdout, r.stderr[-2000:]
    return r.stdout


def images_shown(html, page):
    "How many <img> of `html` show inline data or a file of the site; fails on any other."
    srcs = re.findall(r'<img\b[^>]*?\bsrc="([^"]+)"', html)
    for src in srcs:
        assert src.startswith("data:image/") or (page.parent / src.split("?")[0]).is_file(), f"{page.name}: broken image {src}"
    return len(srcs)


def test_chapter_with_math_renders_in_browser(site):
    "The first numbered chapter with math has its title, its equations typeset by MathJax, and its images."
    page, nb = next(((p, nb) for p, nb in chapters() if n_math(nb)), (None, None))
    if page is None: pytest.skip("no numbered chapter has math yet")
    html = dom(page)
    title = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ").strip()
    assert re.search(rf"<title>\s*{re.escape(title)} - textmine\s*</title>", html), f"{page.name}: title is not {title!r}"
    rendered = len(re.findall(r'id="MathJax-Element-\d+-Frame"', html))  # MathJax's output, in place of the TeX
    assert rendered >= 1 and "Math Processing Error" not in html, f"{page.name}: MathJax rendered {rendered} of {n_math(nb)}"
    assert 'class="noError"' not in html and 'class="merror"' not in html, f"{page.name}: a TeX error"
    assert images_shown(html, page) >= n_images(nb)


def test_images_render_in_browser(site):
    "The first chapter that shows images (plots or pictures; else the index page) shows all of them."
    index = (SITE / "index.html", nbformat.read(SRC / "index.ipynb", as_version=4))
    page, nb = next(((p, nb) for p, nb in chapters() + [index] if n_images(nb)), (None, None))
    if page is None: pytest.skip("no page has an image yet")
    assert images_shown(dom(page), page) >= n_images(nb) >= 1
