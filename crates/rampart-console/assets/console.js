// Rampart console: progressive enhancement only (every page works without it). No inline
// script anywhere; this file is served from /static/console.js under a strict CSP.
"use strict";
(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  document.addEventListener("DOMContentLoaded", function () {
    // Copy the link of the current queue view.
    var copy = $("#copy-link");
    if (copy) {
      copy.addEventListener("click", function () {
        var url = new URL(copy.getAttribute("data-link"), window.location.href).href;
        if (navigator.clipboard) { navigator.clipboard.writeText(url).catch(function () {}); }
        copy.setAttribute("data-copied", url);
        copy.textContent = "Link copied";
      });
    }
    // Select every incident of the page.
    var all = $("#select-all");
    if (all) {
      all.addEventListener("change", function () {
        $all("#queue tbody input[name=id]").forEach(function (c) { c.checked = all.checked; });
      });
    }
    // Live queue: new incidents arrive as server-sent events.
    var live = $("#live");
    if (live && window.EventSource) {
      var since = live.getAttribute("data-since") || "0";
      var es = new EventSource("/incidents/live?since=" + encodeURIComponent(since));
      var fresh = 0;
      es.addEventListener("incident", function (ev) {
        var inc;
        try { inc = JSON.parse(ev.data); } catch (e) { return; }
        fresh += 1;
        live.hidden = false;
        live.textContent = "";
        var a = document.createElement("a");
        a.href = window.location.pathname + window.location.search;
        a.textContent = fresh + " new incident" + (fresh > 1 ? "s" : "") + " — latest: " + inc.title + " (reload)";
        live.appendChild(a);
        live.setAttribute("data-latest", String(inc.id));
      });
    }
    // Buttons that ask first (merging cannot be undone).
    $all("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (ev) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
    // Graph: selecting a node (click, or Enter / Space on a focused node) opens its flyout;
    // Escape or the close button shuts it.
    var fly = $("#flyout");
    if (fly) {
      var open = function (n) {
        var id = n.getAttribute("data-node");
        $all(".flyout-body").forEach(function (b) { b.hidden = b.getAttribute("data-node") !== id; });
        $all(".graph .node").forEach(function (m) { m.classList.toggle("selected", m === n); });
        fly.hidden = false;
      };
      var shut = function () {
        fly.hidden = true;
        $all(".graph .node.selected").forEach(function (m) { m.classList.remove("selected"); });
      };
      $all(".graph .node").forEach(function (n) {
        n.addEventListener("click", function () { open(n); });
        n.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(n); }
        });
      });
      document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { shut(); } });
      var close = $("#flyout-close");
      if (close) { close.addEventListener("click", shut); }
    }
  });
})();
