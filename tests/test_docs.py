"""The documentation site: built from the notebooks as `make docs` builds it, checked to load nothing
from the network, and read in headless Chromium to see that equations and plots really render."""
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

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
    "How many images `nb` shows: image outputs (plots, which the build turns into <img> with alt text) and images in markdown cells."
    plots = sum(any(k in o.get("data", {}) for k in PLOT) or "<img " in str(o.get("data", {}).get("text/html", ""))
                for c in nb.cells if c.cell_type == "code" for o in c.outputs)
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


def pages_of(site):
    "The site's pages, those in subfolders (solutions/) too, not the files of its assets."
    return sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in ("assets", "search"))


def test_links_between_pages_resolve(site):
    "Every relative link of a page points at a file of the site (a notebook link became a page link), and at an element of it."
    pages = pages_of(site)
    ids = {p: set(re.findall(r'\bid="([^"]+)"', p.read_text(encoding="utf-8"))) for p in pages}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if page.name == "404.html":  # served at any address: its links must not assume the server's root
            assert not re.findall(r'(?:href|src)="/', html), "404.html: absolute URLs"
        for href in re.findall(r'<a\b[^>]*?\bhref="([^"]+)"', html):
            if not re.match(r"[a-z]+:|//", href):  # a file of the site, e.g. data.html#load_dataset
                path, _, anchor = href.partition("#")
                target = Path(os.path.normpath(page.parent / path.split("?")[0])) if path else page
                assert target.exists(), f"{page.relative_to(site)}: broken link {href}"
                if anchor and target.suffix == ".html":
                    assert unquote(anchor) in ids[target], f"{page.relative_to(site)}: link {href} to a missing anchor"


def test_no_markdown_link_syntax_on_pages(site):
    "No page shows markdown link syntax as text: not in prose, not in the comments of an API entry's signature."
    for page in pages_of(site):
        html = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
        literal = re.findall(r"\]\((?:https?:|[\w./-]+\.(?:html|ipynb)|#)[^)\s]*\)", re.sub(r"<[^>]+>", "", html))
        assert not literal, f"{page.name} shows markdown links as text: {literal[:3]}"


def test_sidebar_lists_the_notebooks_in_order(site):
    "The sidebar starts with the index, then the numbered chapters in file-name order."
    html = (site / "index.html").read_text(encoding="utf-8")
    nav = html[html.index('data-md-type="navigation"'):]
    hrefs = list(dict.fromkeys(re.findall(r'<a href="([^"#]+)" class="md-nav__link', nav)))
    assert hrefs[:len(chapters()) + 1] == ["index.html"] + [p.name for p, _ in chapters()]


def test_solutions_have_their_own_section_and_link_both_ways(site):
    """The solutions notebooks are pages of a `Solutions` section after the chapters; each chapter with a solutions
    notebook links to its page, and the page links back to the chapter."""
    solutions = sorted((ROOT / "nbs" / "solutions").glob("*.ipynb"))
    if not solutions: pytest.skip("no solutions notebooks")
    html = (site / "index.html").read_text(encoding="utf-8")
    nav = html[html.index('data-md-type="navigation"'):]
    assert re.search(r">\s*Solutions\s*<", nav), "no Solutions section in the sidebar"
    hrefs = list(dict.fromkeys(re.findall(r'<a href="([^"#]+)" class="md-nav__link', nav)))
    shown = [h for h in hrefs if h.startswith("solutions/")]
    assert len(shown) == len(solutions), f"the sidebar lists {len(shown)} of {len(solutions)} solutions pages"
    assert hrefs.index(shown[0]) > max(hrefs.index(p.name) for p, _ in chapters()), "solutions come after the chapters"
    for nb in solutions:
        name = re.sub(r"^\d+[a-zA-Z0-9]*_", "", nb.stem.lower())  # nbdev's page name: data_solutions
        chapter = re.sub(r"_solutions$", "", name)
        back = (site / "solutions" / f"{name}.html").read_text(encoding="utf-8")
        assert f'href="../{chapter}.html' in back, f"solutions/{name}.html does not link back to {chapter}.html"
        if (site / f"{chapter}.html").is_file() and f"solutions/{nb.name}" in (ROOT / "nbs" / nb.name.replace("_solutions", "")).read_text(encoding="utf-8"):
            assert f'href="solutions/{name}.html' in (site / f"{chapter}.html").read_text(encoding="utf-8"), f"{chapter}.html: no link to its solutions"


def chromium():
    "The headless browser's executable; fails under CI and skips elsewhere when there is none."
    exe = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if exe: return exe
    msg = "Chromium not found: `make browser` (or apt-get install chromium) to run the docs browser test"
    pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)


WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
# What the page looks like to a reader, measured in the browser after MathJax ran:
# frames: tables and code blocks wider than the text column that are cut off without a scroll cue;
# anchors: in-page links (the table of contents included) whose target is not on the page; noalt: images without alt text.
READ = """() => {
  const art = document.querySelector("article.md-content__inner"), box = art.getBoundingClientRect();
  const name = el => (el.id ? "#" + el.id : el.tagName.toLowerCase()) + ": " + el.textContent.trim().slice(0, 60);
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1;
  const frames = [];
  for (const el of art.querySelectorAll("table, pre")) {
    const r = el.getBoundingClientRect();
    if (!r.width) continue;                                   // not shown (a closed block)
    let f = el;
    while (f !== art && !scrolls(f)) f = f.parentElement;
    if (f !== art) {                                         // it scrolls: the frame must show that it does
      const cue = f.classList.contains("tm-overflows") && getComputedStyle(f).backgroundImage.includes("gradient");
      if (!cue) frames.push("no scroll cue: " + name(el));
    } else if (r.right > box.right + 1 || el.scrollWidth > el.clientWidth + 1) frames.push("cut off: " + name(el));
  }
  const here = location.href.split("#")[0];
  const anchors = [...document.querySelectorAll("a[href*='#']")]
    .filter(a => a.href.split("#")[0] === here && a.hash.length > 1)
    .filter(a => !document.getElementById(decodeURIComponent(a.hash.slice(1))))
    .map(a => (a.closest(".md-nav--secondary") ? "toc " : "") + a.getAttribute("href"));
  const empty = [...document.querySelectorAll(".md-nav--secondary a")].filter(a => !a.textContent.trim()).map(a => a.getAttribute("href"));
  const noalt = [...document.images].filter(i => !i.alt.trim() || i.alt.startsWith("No description")).map(i => i.src.slice(0, 80));
  return {frames, anchors: anchors.concat(empty.map(h => "empty toc entry " + h)), noalt,
          wide: document.documentElement.scrollWidth > innerWidth + 1, column: Math.round(box.width),
          h1: document.querySelectorAll("article h1").length, footer: !!document.querySelector(".md-footer__link"),
          math: document.querySelectorAll("[id^=MathJax-Element-][id$=-Frame]").length};
}"""
MATHJAX_DONE = "() => new Promise(done => window.MathJax && MathJax.Hub ? MathJax.Hub.Queue(done) : done())"


@pytest.fixture(scope="module")
def readings(site):
    """Every page read in headless Chromium at each of `WIDTHS`: what READ measures, the page's DOM (laptop width),
    the files it loaded with their total size, and the requests that failed."""
    try: from playwright.sync_api import sync_playwright
    except ImportError:
        msg = "playwright not installed (a dev requirement): pip install playwright to run the docs browser test"
        pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)
    exe, res = chromium(), {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--disable-gpu", "--disable-dev-shm-usage", "--no-sandbox"])
        try:
            for page in sorted(set(pages_of(site)) - {site / "404.html"}):
                key = page.relative_to(site).as_posix()
                (w, h), files, failed = WIDTHS["laptop"], set(), []
                tab = browser.new_page(viewport={"width": w, "height": h})
                tab.on("request", lambda r: r.url.startswith("file:") and files.add(Path(unquote(urlparse(r.url).path))))
                tab.on("requestfailed", lambda r: r.url != "about:blank" and failed.append(r.url))
                tab.goto(page.as_uri(), wait_until="load")
                if tab.query_selector("script[src*='mathjax/MathJax.js']"):
                    tab.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=30000)
                for width, (w, h) in WIDTHS.items():  # the same page at each width, as a reader resizing the window
                    tab.set_viewport_size({"width": w, "height": h})
                    tab.evaluate(MATHJAX_DONE)  # MathJax re-typesets on resize; the page's script re-marks the frames
                    tab.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
                    res[key, width] = tab.evaluate(READ)
                res[key, "laptop"].update(dom=tab.content())
                for width in WIDTHS: res[key, width].update(failed=failed, files=files,
                                                                   bytes=sum(f.stat().st_size for f in files if f.is_file()))
                tab.close()
        finally: browser.close()
    return res


def failures(readings, key):
    return {f"{p} ({w})": r[key] for (p, w), r in readings.items() if r[key]}


def test_wide_tables_and_code_scroll_in_a_frame_with_a_cue(readings):
    "At laptop and phone width no table or code block is cut off, none scrolls without a visible cue, the page itself does not scroll sideways."
    assert not failures(readings, "frames")
    assert not failures(readings, "wide"), "pages wider than the window"


def test_content_uses_the_width_of_a_laptop_screen(readings):
    "At 1280 px the text column is at least 800 px wide (61rem caps Material's at about 690 px)."
    narrow = {p: r["column"] for (p, w), r in readings.items() if w == "laptop" and r["column"] < 800}
    assert not narrow


def test_in_page_links_and_toc_entries_have_targets(readings):
    "Every in-page link and table-of-contents entry of every page points at an element of the page, and no entry is empty."
    assert not failures(readings, "anchors")


def test_every_image_has_alt_text(readings):
    assert not failures(readings, "noalt")


def test_pages_load_every_file_they_ask_for(readings):
    "No request of a page fails: MathJax finds every font it asks for, pages find their scripts and styles."
    assert not failures(readings, "failed")


def test_one_title_and_previous_next_links(readings):
    "Every page has one H1 (reports shown in a page are sections of it) and previous/next links in its footer."
    assert not {p: r["h1"] for (p, w), r in readings.items() if r["h1"] != 1}
    assert all(r["footer"] for r in readings.values())


def test_page_weight_is_reported(readings, capsys):
    "Each page's transfer weight on a first visit (the files it loads), printed; the shared style sheet is loaded, not inlined."
    sizes = {p: r["bytes"] for (p, w), r in readings.items() if w == "laptop"}
    shared = set.intersection(*(r["files"] for r in readings.values()))  # loaded by every page: cached after the first
    own = {p: sum(f.stat().st_size for f in readings[p, "laptop"]["files"] - shared if f.is_file()) for p in sizes}
    with capsys.disabled():
        print("\npage weight in kB, first visit / with the shared files cached:",
              ", ".join(f"{p} {b / 1e3:.0f}/{own[p] / 1e3:.0f}" for p, b in sorted(sizes.items())))
        for label, values in (("first visit", sizes.values()), ("shared files cached", own.values())):
            ranked = sorted(values)
            print(f"{label}: median {ranked[len(ranked) // 2] / 1e3:.0f} kB, largest {ranked[-1] / 1e3:.0f} kB")
    for (p, w), r in readings.items():
        assert any(f.name.startswith("notebook-") and f.suffix == ".css" for f in r["files"]), f"{p}: no shared notebook style sheet"
        inline = max(map(len, re.findall(r"<style[^>]*>(.*?)</style>", (SITE / p).read_text(encoding="utf-8"), re.S)), default=0)
        assert inline < 20_000, f"{p} inlines {inline} characters of CSS"


def images_shown(html, page):
    "How many <img> of `html` show inline data or a file of the site; fails on any other."
    srcs = re.findall(r'<img\b[^>]*?\bsrc="([^"]+)"', html)
    for src in srcs:
        assert src.startswith("data:image/") or (page.parent / src.split("?")[0]).is_file(), f"{page.name}: broken image {src}"
    return len(srcs)


def test_chapter_with_math_renders_in_browser(site, readings):
    "The first numbered chapter with math has its title, its equations typeset by MathJax, and its images."
    page, nb = next(((p, nb) for p, nb in chapters() if n_math(nb)), (None, None))
    if page is None: pytest.skip("no numbered chapter has math yet")
    html = readings[page.name, "laptop"]["dom"]
    title = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ").strip()
    assert re.search(rf"<title>\s*{re.escape(title)} - textmine\s*</title>", html), f"{page.name}: title is not {title!r}"
    rendered = readings[page.name, "laptop"]["math"]  # MathJax's output, in place of the TeX
    assert rendered >= 1 and "Math Processing Error" not in html, f"{page.name}: MathJax rendered {rendered} of {n_math(nb)}"
    assert 'class="noError"' not in html and 'class="merror"' not in html, f"{page.name}: a TeX error"
    assert images_shown(html, page) >= n_images(nb)


def test_mathjax_only_on_pages_with_math(site):
    "A page without TeX does not load MathJax; one with TeX does."
    for page, nb in chapters():
        loads = "mathjax/MathJax.js" in page.read_text(encoding="utf-8")
        if n_math(nb): assert loads, f"{page.name} has math but no MathJax"


def test_images_render_in_browser(site, readings):
    "The first chapter that shows images (plots or pictures; else the index page) shows all of them."
    index = (SITE / "index.html", nbformat.read(SRC / "index.ipynb", as_version=4))
    page, nb = next(((p, nb) for p, nb in chapters() + [index] if n_images(nb)), (None, None))
    if page is None: pytest.skip("no page has an image yet")
    assert images_shown(readings[page.name, "laptop"]["dom"], page) >= n_images(nb) >= 1
