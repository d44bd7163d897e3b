/* The book's own script (see book/_ext/site_features.py and book.css).
 *
 * - Wide content: an equation, table or code block wider than the text
 *   column scrolls sideways in its own box; the box gets the classes
 *   book-scroll, book-more-right / book-more-left while there is more to
 *   see, and book.css fades that edge out. Inline math wider than its
 *   line becomes such a box too (class book-wide-inline).
 * - Search results: titles and summaries with TeX are typeset by MathJax;
 *   a formula cut by the summary's end is dropped.
 * - The link to the offline copy is hidden in the offline copy itself.
 */
(function () {
  "use strict";

  var SCROLLERS = [
    'div.math mjx-container[display="true"]',
    ".pst-scrollable-table-container",
    "div.highlight pre",
    "mjx-container.book-wide-inline",
  ].join(", ");

  function mark(el) {
    var extra = el.scrollWidth - el.clientWidth;
    var more = el.clientWidth > 0 && extra > 1;
    el.classList.toggle("book-scroll", more);
    el.classList.toggle("book-more-left", more && el.scrollLeft > 1);
    el.classList.toggle(
      "book-more-right", more && el.scrollLeft < extra - 1);
  }

  function wideInlineMath(root) {
    root.querySelectorAll('mjx-container:not([display="true"])')
      .forEach(function (math) {
        if (math.classList.contains("book-wide-inline")) { return; }
        var block = math.parentElement;
        while (block && getComputedStyle(block).display.indexOf("inline")
               === 0) {
          block = block.parentElement;
        }
        if (!block || block.clientWidth === 0) { return; }
        var room = block.getBoundingClientRect();
        var box = math.getBoundingClientRect();
        if (box.width > room.width + 1 || box.right > room.right + 1) {
          math.classList.add("book-wide-inline");
        }
      });
  }

  function setup() {
    var article = document.querySelector("article.bd-article");
    if (!article) { return; }
    wideInlineMath(article);
    article.querySelectorAll(SCROLLERS).forEach(function (el) {
      mark(el);
      if (!el.dataset.bookScroll) {
        el.dataset.bookScroll = "1";
        el.addEventListener("scroll", function () { mark(el); },
                            { passive: true });
      }
    });
  }

  var pending = null;
  function later() {
    clearTimeout(pending);
    pending = setTimeout(setup, 120);
  }

  function afterMathJax(callback) {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(callback);
    } else {
      callback();
    }
  }

  /* -- search results ---------------------------------------------------- */
  // A summary is a window of the page's text: it may start or end inside
  // a formula. Display math is dropped from it (" … "), an unfinished
  // formula at either end is cut off, and the inline formulas left are
  // typeset.
  var DELIMITER = /\\\(|\\\)|\\\[|\\\]|\$\$/g;

  function cleanSummary(text) {
    var marks = [], m;
    DELIMITER.lastIndex = 0;
    while ((m = DELIMITER.exec(text)) !== null) {
      marks.push({at: m.index, tok: m[0]});
    }
    // a closing delimiter before any opening one: the start is mid-formula
    if (marks.length && (marks[0].tok === "\\)" || marks[0].tok === "\\]")) {
      text = "\u2026 " + text.slice(marks[0].at + 2);
      return cleanSummary(text);
    }
    // complete display formulas
    text = text.replace(/\\\[[\s\S]*?\\\]|\$\$[\s\S]*?\$\$/g, " \u2026 ");
    // an opening delimiter without its closing one: cut from there
    var lastOpen = Math.max(text.lastIndexOf("\\("), text.lastIndexOf("\\["),
                            text.lastIndexOf("$$"));
    if (lastOpen >= 0) {
      var rest = text.slice(lastOpen + 2);
      if (rest.indexOf("\\)") < 0 && rest.indexOf("\\]") < 0
          && rest.indexOf("$$") < 0) {
        text = text.slice(0, lastOpen) + "\u2026";
      }
    }
    // TeX left outside the inline formulas (a window inside a long
    // display): no summary rather than raw TeX
    if (/\\[A-Za-z]/.test(text.replace(/\\\([\s\S]*?\\\)/g, ""))) {
      text = "\u2026";
    }
    return text;
  }

  function dropCutFormula(el) {
    el.querySelectorAll("p.context").forEach(function (p) {
      if (p.dataset.bookClean) { return; }
      p.dataset.bookClean = "1";
      p.textContent = cleanSummary(p.textContent);
    });
  }

  function typesetSearch() {
    var results = document.getElementById("search-results");
    if (!results || !window.MathJax) { return; }
    var busy = false;
    var observer = new MutationObserver(function () {
      if (busy) { return; }
      busy = true;
      setTimeout(function () {
        observer.disconnect();
        dropCutFormula(results);
        afterMathJax(function () {
          var done = window.MathJax.typesetPromise
            ? window.MathJax.typesetPromise([results]) : Promise.resolve();
          done.catch(function () {}).then(function () {
            busy = false;
            observer.observe(results, { childList: true, subtree: true });
          });
        });
      }, 50);
    });
    results.classList.add("mathjax_process");
    observer.observe(results, { childList: true, subtree: true });
  }

  function offlineCopy() {
    if (window.location.protocol !== "file:") { return; }
    document.querySelectorAll(".download-offline-zip-button")
      .forEach(function (el) {
        var item = el.closest("li") || el;
        item.style.display = "none";
      });
    // The landing page's link to the offline copy: plain text offline.
    document.querySelectorAll("a.download-offline-zip-link")
      .forEach(function (el) { el.removeAttribute("href"); });
  }

  function start() {
    offlineCopy();
    typesetSearch();
    afterMathJax(setup);
    window.addEventListener("resize", later);
    // Content revealed by a dropdown or a tab is measured when shown.
    document.addEventListener("click", later);
    document.addEventListener("toggle", later, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
