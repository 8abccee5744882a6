"""MkDocs hooks for the textmine site (see mkdocs.yml): every page loads local files only."""
import re

from mkdocs.utils import get_relative_url

# nbconvert's page template imports mermaid.js from a CDN when a page has a Mermaid diagram;
# the notebooks draw none, so the loader script is dropped rather than left pointing outside.
MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded".*?\.jp-Mermaid.*?</script>', re.S)


def on_post_page(html, page, config):
    "Drop the mermaid loader and make the MathJax address relative to the page (for pages in sub-folders)."
    html = MERMAID.sub("", html)
    return html.replace('src="assets/mathjax/', f'src="{get_relative_url("assets/mathjax/", page.url)}')
