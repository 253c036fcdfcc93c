/* telemetry: a tiny stand-in for the jQuery, Bootstrap and bootstrap-table calls Great Expectations' Data Docs
   make, so the pages work with no network (ingest/dq.py make_data_docs_offline). Renders the index tables,
   which GX fills from JavaScript, as plain HTML tables whose rows link to their pages; supports the
   "failed only" filter (fadeIn/fadeOut). Everything else is a no-op. */
(function () {
  "use strict";
  function Q(nodes) { this.nodes = nodes; this.length = nodes.length; }
  function $(arg) {
    if (typeof arg === "function") { onReady(arg); return new Q([]); }
    if (typeof arg === "string") {
      try { return new Q(Array.prototype.slice.call(document.querySelectorAll(arg))); }
      catch (error) { return new Q([]); }
    }
    if (arg && arg.nodes) { return arg; }
    return new Q(arg ? [arg] : []);
  }
  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", function () { fn($); }); }
    else { fn($); }
  }
  function global(name) { return typeof name === "string" ? window[name] : name; }
  function cellHtml(value) { return value === undefined || value === null ? "" : String(value); }
  function renderTable(table, options) {
    var columns = (options.columns || []).filter(function (c) { return c.visible !== false && c.visible !== "false"; });
    var rows = (options.data || []).slice();
    if (options.sortName) {
      var key = options.sortName, sign = options.sortOrder === "desc" ? -1 : 1;
      rows.sort(function (a, b) { return a[key] < b[key] ? -sign : a[key] > b[key] ? sign : 0; });
    }
    var attributes = global(options.rowAttributes);
    var head = "<thead><tr>" + columns.map(function (c) { return "<th>" + cellHtml(c.title) + "</th>"; }).join("") + "</tr></thead>";
    var body = rows.map(function (row, index) {
      var link = row._table_row_link_path;
      if (!link && typeof attributes === "function") { link = (attributes(row, index) || {})["data-href"]; }
      var cells = columns.map(function (c) { return "<td>" + cellHtml(row[c.field]) + "</td>"; }).join("");
      return "<tr" + (link ? ' class="clickable-row" data-href="' + String(link).replace(/"/g, "&quot;") + '"' : "") + ">" + cells + "</tr>";
    }).join("");
    table.innerHTML = head + "<tbody>" + body + "</tbody>";
    table.classList.add("telemetry-table");
    Array.prototype.forEach.call(table.querySelectorAll("tr[data-href]"), function (tr) {
      tr.addEventListener("click", function (event) {
        if (event.target.closest && event.target.closest("a")) { return; }
        window.location = tr.getAttribute("data-href");
      });
      var last = tr.querySelector("td:last-child");
      if (last && !last.querySelector("a")) {
        last.innerHTML = '<a href="' + tr.getAttribute("data-href") + '">' + last.innerHTML + "</a>";
      }
    });
  }
  Q.prototype = {
    each: function (fn) { this.nodes.forEach(function (node, index) { fn.call(node, index, node); }); return this; },
    parent: function () { return new Q(this.nodes.map(function (n) { return n.parentElement; }).filter(Boolean)); },
    fadeIn: function () { this.nodes.forEach(function (n) { n.style.display = ""; }); return this; },
    fadeOut: function () { this.nodes.forEach(function (n) { n.style.display = "none"; }); return this; },
    show: function () { return this.fadeIn(); },
    hide: function () { return this.fadeOut(); },
    addClass: function (name) { this.nodes.forEach(function (n) { n.classList.add(name); }); return this; },
    removeClass: function (name) { this.nodes.forEach(function (n) { n.classList.remove(name); }); return this; },
    prepend: function (html) { this.nodes.forEach(function (n) { n.insertAdjacentHTML("afterbegin", html); }); return this; },
    data: function (key) { return this.nodes.length ? this.nodes[0].getAttribute("data-" + key) : undefined; },
    ready: function (fn) { onReady(fn); return this; },
    on: function () { return this; },
    modal: function () { return this; },
    tooltip: function () { return this; },
    popover: function () { return this; },
    collapse: function () { return this; },
    datepicker: function () { return this; },
    bootstrapTable: function (options) {
      if (options && typeof options === "object") { this.nodes.forEach(function (n) { renderTable(n, options); }); }
      return this;
    }
  };
  $.fn = Q.prototype;
  window.$ = window.jQuery = $;
})();
