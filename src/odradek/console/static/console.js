// odradek console: the live tail of the message browser and client-side table filters.
// Plain JavaScript, no framework, nothing loaded from elsewhere.
"use strict";

(function () {
  function startTail(box) {
    var rows = document.getElementById("message-rows");
    var status = document.getElementById("tail-status");
    var after = parseInt(box.dataset.after, 10);
    var timer = null;
    var busy = false;

    function poll() {
      if (busy) { return; }
      busy = true;
      fetch(box.dataset.url + "&after=" + after, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          var next = parseInt(response.headers.get("X-Next-Offset"), 10);
          return response.text().then(function (html) { return [next, html]; });
        })
        .then(function (result) {
          if (!isNaN(result[0])) { after = result[0]; }
          if (result[1].trim()) { rows.insertAdjacentHTML("beforeend", result[1]); }
          status.textContent = "tailing after offset " + after;
        })
        .catch(function (error) { status.textContent = "tail failed: " + error.message; })
        .finally(function () { busy = false; });
    }

    box.addEventListener("change", function () {
      if (box.checked) {
        poll();
        timer = window.setInterval(poll, 2000);
      } else {
        window.clearInterval(timer);
        status.textContent = "";
      }
    });
  }

  function startFilter(input) {
    var table = document.querySelector(input.dataset.filter);
    input.addEventListener("input", function () {
      var needle = input.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live-tail");
    if (box) { startTail(box); }
    document.querySelectorAll("input.table-filter").forEach(startFilter);
  });
})();
