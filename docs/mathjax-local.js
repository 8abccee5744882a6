// MathJax 2 settings for the copy of MathJax that the site ships (build.py puts it in
// assets/mathjax/ and this file in assets/mathjax/config/local/textmine.js).
// That copy has only the STIX-Web fonts, so MathJax must not look for the TeX fonts.
MathJax.Hub.Config({
  "HTML-CSS": {
    availableFonts: [],
    preferredFont: null,
    webFont: "STIX-Web",
    imageFont: null,
    linebreaks: {automatic: true}  // wrap long equations instead of cutting them off
  },
  // The hidden MathML copy for screen readers would ask for MathJax's TeX fonts (double-struck, script,
  // fraktur letters), which this copy does not ship: it needs no web font, as nobody sees it.
  styles: {".MJX_Assistive_MathML, .MJX_Assistive_MathML *": {"font-family": "serif !important"}}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/textmine.js");
