"""MkDocs hooks for the textmine site (see mkdocs.yml): every page loads local files only, shares one notebook style sheet,
loads MathJax only where it has math, and has a table of contents whose entries match its headings."""
import hashlib, html as htmlmod, posixpath, re
from pathlib import Path

from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url

# nbconvert's page template imports mermaid.js from a CDN when a page has a Mermaid diagram;
# the notebooks draw none, so the loader script is dropped rather than left pointing outside.
MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded".*?\.jp-Mermaid.*?</script>', re.S)
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
MATHJAX = re.compile(r'(<!-- Load mathjax -->\s*)?<script[^>]*src="assets/mathjax/[^"]*"[^>]*>\s*</script>\s*'
                     r'(<!-- MathJax configuration -->\s*)?<script type="text/x-mathjax-config">.*?</script>', re.S)
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\n<>]+?\$|\\\(.+?\\\)|\\\[.+?\\\]|\\begin\{", re.S)
HEAD = re.compile(r'<h([1-6]) id="([^"]*)"([^>]*)>(.*?)<a class="anchor-link" href="#[^"]*">¶</a></h\1>', re.S)
SHARED = "assets/stylesheets/notebook-{}.css"
_css = {}  # shared style sheet name -> its text, written in on_post_build


def _text(fragment): return htmlmod.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def _math_text(content):
    "The page's prose and output text where MathJax looks for TeX: everything outside <pre>, <code> and <script>."
    return re.sub(r"<(pre|code|script|style)\b.*?</\1>", "", content, flags=re.S)


def on_page_content(content, page, config, files):
    """Headings: nbdev's anchors for API entries (`kerastextclassifier.fit`, the names nbdev's links use), Material's
    `headerlink` (kept out of search titles) and a table of contents built from the headings as they are on the page.
    Tables and wide outputs scroll in their own frame; plots and pictures open full size on click."""
    tokens, seen = [], set()

    def head(m):
        level, hid, attrs, inner = int(m[1]), m[2], m[3], m[4]
        name = _text(inner)
        if re.fullmatch(r"[A-Za-z_][\w.]*", name) and "." in name or (level >= 3 and re.fullmatch(r"[A-Za-z_]\w*", name)):
            hid = name.lower()  # an API entry: nbdev links to `page.html#name`, lower case
        base, i = hid or "section", 1
        while hid in seen or not hid: hid, i = f"{base}_{i}", i + 1
        seen.add(hid)
        tokens.append({"level": level, "id": hid, "name": htmlmod.escape(name), "children": []})
        return f'<h{level} id="{hid}"{attrs}>{inner}<a class="headerlink" href="#{hid}" title="Link to this section">¶</a></h{level}>'

    content = HEAD.sub(head, content)
    root = []
    for t in tokens:  # nest by level, as Python-Markdown's toc tokens are
        stack = root
        while stack and stack[-1]["level"] < t["level"]: stack = stack[-1]["children"]
        stack.append(t)
    page.toc = get_toc(root)
    # wide tables scroll inside a frame of their own; `tabindex` lets the keyboard scroll them too
    content = re.sub(r"(<table\b.*?</table>)", r'<div class="tm-scroll" tabindex="0">\1</div>', content, flags=re.S)
    content = re.sub(r'<img\b(?![^>]*\bclass="tm-zoom)', '<img class="tm-zoom" loading="lazy"', content)
    # a drawing in the prose (the pipeline diagram) keeps a legible size on a phone and scrolls in its frame
    content = re.sub(r'(<img class="tm-zoom"[^>]*\bsrc="[^"]+\.svg"[^>]*>)', r'<span class="tm-scroll tm-drawing" tabindex="0">\1</span>', content)
    # code and its outputs (numbers, tables, plots) stay out of the search index, which every page loads;
    # prose and the API entries (markdown outputs) stay in
    content = re.sub(r'<div class="([^"]*\bjp-OutputArea-output\b[^"]*)"(?! data-mime-type="text/markdown")',
                     r'<div class="\1" data-search-exclude', content)
    content = content.replace('<div class="jp-InputArea jp-Cell-inputArea">', '<div class="jp-InputArea jp-Cell-inputArea" data-search-exclude>')
    return content


def on_post_page(html, page, config):
    """Drop the mermaid loader; move nbconvert's style sheets (the same on every page) into one cached file;
    keep MathJax only on pages with math; make the MathJax address relative."""
    html = MERMAID.sub("", html)
    styles = [m for m in STYLE.finditer(html) if len(m[1]) > 2000 and "jupyter-wrapper" in m[1] or "td.linenos" in m[1][:300]]
    if styles:
        css = "\n".join(m[1] for m in styles)
        name = SHARED.format(hashlib.sha256(css.encode()).hexdigest()[:10])
        _css[name] = css
        for m in reversed(styles): html = html[:m.start()] + html[m.end():]
        link = f'<link rel="stylesheet" href="{get_relative_url(name, page.url)}">'
        html = html.replace("</head>", link + "\n</head>", 1)
    body = html[html.find('<article'):html.find('</article>')]
    if not MATH.search(_math_text(body)): html = MATHJAX.sub("", html)
    html = html.replace('src="assets/mathjax/', f'src="{get_relative_url("assets/mathjax/", page.url)}')
    return html


def on_post_template(output, template_name, config):
    "The 404 page (a template, not a page): links relative to the site's root, where 404.html is, not to the server's root."
    if template_name != "404.html": return output
    base = re.escape(re.sub(r"^https?://[^/]+", "", config.site_url or "/"))
    return re.sub(rf'((?:href|src)="|new URL\(")({base})', r"\1./", output)


def _selectors(prelude):
    "The comma-separated selectors of a rule's prelude (commas inside brackets, as in `:is(a, b)`, do not split)."
    out, depth, cur = [], 0, ""
    for ch in prelude:
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if ch == "," and not depth: out.append(cur.strip()); cur = ""
        else: cur += ch
    return out + [cur.strip()] if cur.strip() else out


def purge(css, used):
    """`css` without the rules whose every selector needs a class no page has (nbconvert ships all of JupyterLab's
    and Blueprint's styles, most of which a static notebook page never uses); other rules are kept whole."""
    import tinycss2

    def rules(nodes):
        out = []
        for node in nodes:
            if node.type == "qualified-rule":
                keep = [sel for sel in _selectors(tinycss2.serialize(node.prelude))
                        if set(re.findall(r"\.(-?[_a-zA-Z][\w-]*)", re.sub(r":(not|where|is|has)\([^()]*\)", "", sel))) <= used]
                if keep: out.append(", ".join(keep) + "{" + tinycss2.serialize(node.content) + "}")
            elif node.type == "at-rule" and node.lower_at_keyword in ("media", "supports") and node.content is not None:
                inner = rules(tinycss2.parse_blocks_contents(node.content, skip_whitespace=True, skip_comments=True))
                if inner: out.append(f"@{node.at_keyword}{tinycss2.serialize(node.prelude)}{{{''.join(inner)}}}")
            elif node.type == "at-rule": out.append(tinycss2.serialize([node]))
        return out
    return "\n".join(rules(tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True)))


def on_post_build(config):
    "Write the shared style sheets; then point links at anchors a page does not have at the right place, or unlink them."
    site = Path(config.site_dir)
    pages = {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")
             if p.relative_to(site).parts[0] not in ("assets", "search")}  # the pages, in subfolders (solutions/) too
    used = {c for h in pages.values() for a in re.findall(r'\bclass="([^"]*)"', h) for c in a.split()}
    used |= set(re.findall(r"\btm-[\w-]+", (Path(config.docs_dir) / "assets" / "textmine.js").read_text()))  # added by scripts
    for name, css in _css.items(): (site / name).write_text(purge(css, used), encoding="utf-8")
    ids = {n: set(re.findall(r'\bid="([^"]+)"', h)) for n, h in pages.items()}
    link = re.compile(r'<a href="([\w./-]*\.html)?#([^"]+)"([^>]*)>(.*?)</a>', re.S)
    for name, h in pages.items():
        def fix(m):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m[1])) if m[1] else name
            anchor, attrs, inner = m[2], m[3], m[4]
            code = re.fullmatch(r"<code>[^<]*</code>(\(\))?", inner.strip())
            if code and anchor in ids[name] and target != name: return f'<a href="#{anchor}"{attrs}>{inner}</a>'  # own page first
            if anchor in ids.get(target, ()): return m[0]
            if target == name and "headerlink" in attrs: return m[0]
            return inner if code else m[0]  # a name without an entry (private, or documented nowhere): plain code
        new = link.sub(fix, h)
        if new != h: (site / name).write_text(new, encoding="utf-8")
