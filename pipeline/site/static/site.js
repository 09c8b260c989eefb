// Progressive enhancement only: every page reads fine without this file.
(function () {
  "use strict";

  // a re-derive command names its record relative to the page; a copied command needs it absolute
  function recordLinks() {
    document.querySelectorAll("code[data-record]").forEach(function (code) {
      var relative = code.dataset.record;
      var absolute = new URL(relative, window.location.href).href;
      code.textContent = code.textContent.replace(relative, absolute);
    });
  }

  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        var text = source ? source.textContent : "";
        var done = function (ok) {
          button.dataset.copied = ok ? text : "";
          button.textContent = ok ? "Copied" : "Select and copy";
          window.setTimeout(function () { button.textContent = "Copy command"; }, 2500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
        } else {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          done(document.execCommand && document.execCommand("copy"));
        }
      });
    });
  }

  function matrix() {
    var table = document.getElementById("matrix");
    var form = document.getElementById("filters");
    if (!table || !form) { return; }
    form.hidden = false;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var q = document.getElementById("f-q");
    var status = document.getElementById("f-status");
    var py = document.getElementById("f-py");
    var pypi = document.getElementById("f-pypi");
    var count = document.getElementById("f-count");
    var params = new URLSearchParams(window.location.search);
    q.value = params.get("q") || "";
    status.value = params.get("status") || "";
    py.value = params.get("py") || "";
    if (pypi) { pypi.value = params.get("pypi") || ""; }

    // interpreter tag -> column index, from the header (cells carry no per-cell attributes)
    var columns = {};
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      if (th.dataset.sort && th.dataset.sort !== "name") { columns[th.dataset.sort] = index; }
    });
    var firstColumn = Math.min.apply(null, Object.keys(columns).map(function (k) { return columns[k]; }));

    function cellMatches(cell, wanted) {
      if (wanted === "retrying") { return cell.classList.contains("retry"); }
      return cell.classList.contains("st-" + wanted);
    }

    function apply() {
      var needle = q.value.trim().toLowerCase();
      var wanted = status.value;
      var column = py.value;
      var upstream = pypi ? pypi.value : "";
      var shown = 0;
      rows.forEach(function (row) {
        var ok = !needle || row.cells[0].textContent.toLowerCase().indexOf(needle) !== -1;
        var cells = column ? [row.cells[columns[column]]]
          : Array.prototype.slice.call(row.cells, firstColumn);
        if (ok && wanted) {
          ok = cells.some(function (cell) { return cell && cellMatches(cell, wanted); });
        }
        if (ok && upstream) {  // the index's wheel, reproduced or not (pipeline.upstream)
          ok = cells.some(function (cell) { return cell && cell.classList.contains("pypi-" + upstream); });
        }
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " projects";
      var next = new URLSearchParams();
      if (q.value.trim()) { next.set("q", q.value.trim()); }
      if (wanted) { next.set("status", wanted); }
      if (column) { next.set("py", column); }
      if (upstream) { next.set("pypi", upstream); }
      var query = next.toString();
      window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
    }

    var rank = { "reproducible": 0, "unreproducible": 1, "build-failed": 2, "timeout": 3, "no-sdist": 4, "not-applicable": 5, "unchecked": 6 };
    function cellRank(row, tag) {
      var cell = row.cells[columns[tag]];
      if (!cell) { return 9; }
      for (var key in rank) { if (cell.classList.contains("st-" + key)) { return rank[key]; } }
      return 9;
    }
    var headers = Array.prototype.slice.call(table.tHead.querySelectorAll("th[data-sort]"));
    headers.forEach(function (th) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var descending = th.getAttribute("aria-sort") === "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var key = th.dataset.sort;
        var sign = descending ? -1 : 1;
        var sorted = rows.slice().sort(function (a, b) {
          var byName = a.cells[0].textContent.localeCompare(b.cells[0].textContent);
          if (key === "name") { return sign * byName; }
          return sign * (cellRank(a, key) - cellRank(b, key)) || byName;
        });
        var fragment = document.createDocumentFragment();
        sorted.forEach(function (row) { fragment.appendChild(row); });
        body.appendChild(fragment);
      });
    });

    form.addEventListener("input", apply);
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    apply();
  }

  recordLinks();
  copyButtons();
  matrix();
})();
