// Audit trail page: the events of /api/audit, filtered by user and kind, older pages on demand.
(function () {
  "use strict";
  document.documentElement.classList.replace("no-js", "js");
  var params = new URLSearchParams(location.search);
  var table = document.getElementById("audit");
  var body = table.querySelector("tbody");
  var status = document.getElementById("audit-status");
  var more = document.getElementById("audit-more");
  var nextBefore = null;
  document.getElementById("a-user").value = params.get("user") || "";
  document.getElementById("a-kind").value = params.get("kind") || "";

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function load() {
    var query = new URLSearchParams();
    if (params.get("user")) query.set("user", params.get("user"));
    if (params.get("kind")) query.set("kind", params.get("kind"));
    query.set("limit", "50");
    if (nextBefore) query.set("before", nextBefore);
    fetch("/api/audit?" + query.toString(), { headers: { Accept: "application/json" } }).then(function (response) {
      if (response.status === 401) {
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        throw new Error("Your session has ended.");
      }
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer && answer.message ? answer.message : "HTTP " + response.status);
        return answer;
      });
    }).then(function (answer) {
      answer.events.forEach(function (event) {
        var row = document.createElement("tr");
        cell(row, new Date(event.at).toLocaleString());
        cell(row, event.user);
        cell(row, event.kind.replace(/_/g, " "));
        cell(row, event.subject);
        cell(row, event.address);
        cell(row, event.detail);
        body.appendChild(row);
      });
      table.hidden = body.children.length === 0;
      status.textContent = body.children.length === 0 ? "No events match." : body.children.length + " events shown.";
      nextBefore = answer.next_before;
      more.hidden = !nextBefore;
    }).catch(function (error) {
      status.textContent = "The trail could not be loaded: " + error.message;
    });
  }

  more.addEventListener("click", load);
  load();
})();
