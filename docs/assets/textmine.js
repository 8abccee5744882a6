/* textmine site: mark the frames that scroll (for their edge shadows) and open figures full size on click. */
(function () {
  "use strict";
  var FRAMES = ".tm-scroll, .jp-RenderedHTMLCommon pre, .jp-OutputArea-output pre, .highlight pre";
  function mark() {
    document.querySelectorAll(FRAMES).forEach(function (el) {
      el.classList.toggle("tm-overflows", el.scrollWidth > el.clientWidth + 1);
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
