/* textmine site: mark the frames that scroll sideways (for their edge shadows) and open figures full size on click. */
(function () {
  "use strict";
  function scrolls(el) { var o = getComputedStyle(el).overflowX; return o === "auto" || o === "scroll"; }
  function background(el) {  // the colour the frame's edge covers must match: its own, or the nearest one behind it
    for (; el; el = el.parentElement) {
      var c = getComputedStyle(el).backgroundColor;
      if (c && c !== "transparent" && !/rgba\(.*,\s*0\)$/.test(c)) return c;
    }
    return "#fff";
  }
  function mark() {
    var art = document.querySelector("article.md-content__inner");
    if (!art) return;
    art.querySelectorAll(".tm-overflows").forEach(function (f) { if (f.scrollWidth <= f.clientWidth + 1) f.classList.remove("tm-overflows"); });
    art.querySelectorAll("table, pre, .tm-drawing img").forEach(function (el) {
      var f = el;  // the frame that scrolls: the nearest one that is too narrow for what it holds
      while (f && f !== art && !(scrolls(f) && f.scrollWidth > f.clientWidth + 1)) f = f.parentElement;
      if (!f || f === art) return;
      var over = true;
      if (over && !f.style.getPropertyValue("--tm-bg")) f.style.setProperty("--tm-bg", background(f));  // before the class sets it
      f.classList.toggle("tm-overflows", over);
    });
  }
  function zoom(event) {
    var img = event.target;
    if (!(img instanceof HTMLImageElement) || !img.classList.contains("tm-zoom")) return;
    var box = document.createElement("div"), big = document.createElement("img");
    box.className = "tm-lightbox"; box.setAttribute("role", "dialog"); box.setAttribute("aria-label", img.alt);
    big.src = img.currentSrc || img.src; big.alt = img.alt;
    big.style.width = (img.naturalWidth || img.width) + "px";
    if (/\.svg(\?|$)/.test(big.src)) big.style.width = Math.max(img.naturalWidth * 1.5, window.innerWidth * 0.9) + "px";
    box.appendChild(big);
    function close() { box.remove(); document.removeEventListener("keydown", esc); }
    function esc(e) { if (e.key === "Escape") close(); }
    box.addEventListener("click", close); document.addEventListener("keydown", esc);
    document.body.appendChild(box);
  }
  document.addEventListener("click", zoom);
  window.addEventListener("resize", mark);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark); else mark();
  window.addEventListener("load", function () { mark(); if (window.MathJax && MathJax.Hub) MathJax.Hub.Queue(mark); });
})();
