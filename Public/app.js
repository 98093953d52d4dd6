// Upload page: drag and drop, one request per file with its own progress bar,
// a result row per file, and the recent uploads. No framework; the form works
// without this script.
"use strict";

// Loaded in <head> so the page switches to its script layout before it paints.
document.documentElement.classList.replace("no-js", "js");

document.addEventListener("DOMContentLoaded", function () {
  var UPLOAD_URL = "/api/uploads";
  var REJECTS_SHOWN = 20;
  /** Queues a file to check or upload; set below when the page has the upload form. */
  var enqueueFile = function () {};

  // ---- formatting ---------------------------------------------------------

  /**
   * Formats a decimal string ("-1234567.5") with thousands separators and two
   * places ("-1,234,567.50"), rounding half away from zero, without ever turning
   * the amount into a binary float.
   */
  function formatMoney(text) {
    var match = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(String(text));
    if (!match || (match[2] === "" && !match[3])) return String(text);
    var negative = match[1] === "-";
    var whole = (match[2] || "0").replace(/^0+(?=\d)/, "");
    var fraction = (match[3] || "") + "000";
    var cents = fraction.slice(0, 2);
    if (fraction.charAt(2) >= "5") {
      var rounded = incrementDigits(whole + cents);
      whole = rounded.slice(0, rounded.length - 2) || "0";
      cents = rounded.slice(-2);
    }
    var grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var zero = /^[0,]*$/.test(grouped) && cents === "00";
    return (negative && !zero ? "-" : "") + grouped + "." + cents;
  }

  /** Adds one to a string of decimal digits. */
  function incrementDigits(digits) {
    var out = digits.split("");
    for (var i = out.length - 1; i >= 0; i--) {
      if (out[i] === "9") { out[i] = "0"; continue; }
      out[i] = String.fromCharCode(out[i].charCodeAt(0) + 1);
      return out.join("");
    }
    return "1" + out.join("");
  }

  function formatCount(value) {
    if (value === undefined || value === null || value === "") return "–";
    return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  var STATUS_TEXT = {
    loaded: "Loaded",
    checked: "Checked",
    already_loaded: "Already loaded",
    rejected: "Rejected",
    failed: "Failed",
    receiving: "Receiving",
    stored: "Stored",
    loading: "Loading",
    uploading: "Uploading",
    retracting: "Taking back",
    retracted: "Taken back",
    error: "Error"
  };

  /** Statuses whose counts and revenue describe rows in the warehouse (or, checked, rows that would be). */
  var LOADED_STATES = { loaded: true, already_loaded: true, checked: true };

  function statusText(status) {
    return STATUS_TEXT[status] || String(status || "Unknown");
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    if (attributes) {
      Object.keys(attributes).forEach(function (name) {
        if (attributes[name] !== undefined && attributes[name] !== null) node.setAttribute(name, attributes[name]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function badge(status) {
    return el("span", { "class": "badge badge-" + String(status || "unknown").replace(/_/g, "-") }, [statusText(status)]);
  }

  /** A link when the URI is reachable over HTTP; else the URI as text (file://, gs://). */
  function uriNode(uri) {
    if (/^(https?:\/\/|\/)/i.test(uri)) return el("a", { href: uri }, [uri]);
    return el("code", { "class": "uri" }, [uri]);
  }

  // ---- the results table --------------------------------------------------

  var table = document.getElementById("results");
  var empty = document.getElementById("results-empty");
  var live = document.getElementById("live");

  function announce(text) {
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  /** One tbody per file: the summary row and a details row below it. */
  function FileEntry(file) {
    this.file = file;
    this.body = el("tbody", { "class": "result", "data-status": "uploading" });
    this.progress = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
    this.progressText = el("span", { "class": "progress-text" }, ["Waiting…"]);
    this.row = el("tr", { "class": "result-row" });
    this.details = el("tr", { "class": "result-details", hidden: "" });
    this.body.appendChild(this.row);
    this.body.appendChild(this.details);
    this.renderProgress(file.name);
    table.appendChild(this.body);
    table.hidden = false;
    empty.hidden = true;
  }

  FileEntry.prototype.renderProgress = function (name) {
    this.row.textContent = "";
    this.row.appendChild(el("th", { scope: "row", "data-label": "File", "class": "file-name" }, [name]));
    this.row.appendChild(el("td", { colspan: "7", "class": "progress-cell", "data-label": "Progress" },
      [this.progress, this.progressText]));
  };

  FileEntry.prototype.onProgress = function (loaded, total) {
    var percent = total ? Math.floor(loaded * 100 / total) : 0;
    this.progress.value = percent;
    this.progressText.textContent = percent + "% of " + formatBytes(total);
  };

  FileEntry.prototype.onSent = function () {
    this.progress.removeAttribute("value");
    this.progressText.textContent = this.checking ? "Checking rows…" : "Loading rows…";
    this.body.setAttribute("data-status", "loading");
    announce(this.file.name + (this.checking ? ": sent, checking rows." : ": sent, loading rows."));
    if (!this.checking) this.watchLoad();
  };

  // While the server loads the rows, its upload history shows how far the load has come:
  // poll it and show the newest loading upload of this file's name.
  FileEntry.prototype.watchLoad = function () {
    var entry = this;
    entry.loadWatch = setInterval(function () {
      var poll = new XMLHttpRequest();
      poll.open("GET", UPLOAD_URL + "?limit=20");
      poll.setRequestHeader("Accept", "application/json");
      poll.onload = function () {
        if (!entry.loadWatch || poll.status !== 200) return;
        var uploads = [];
        try { uploads = JSON.parse(poll.responseText).uploads || []; } catch (ignored) { return; }
        var running = uploads.filter(function (u) {
          return u.file === entry.file.name && (u.status === "loading" || u.status === "stored");
        })[0];
        if (!running || !running.progress || !running.progress.bytes_total) return;
        var percent = Math.min(100, Math.floor(running.progress.bytes_processed * 100 / running.progress.bytes_total));
        entry.progress.value = percent;
        entry.progressText.textContent = "Loading rows… " + percent + "% · " + formatCount((running.rows || {}).read || 0) + " rows read";
      };
      poll.send();
    }, 700);
  };

  FileEntry.prototype.stopWatching = function () {
    if (this.loadWatch) { clearInterval(this.loadWatch); this.loadWatch = null; }
  };

  FileEntry.prototype.showResult = function (result) {
    var rows = result.rows || {};
    var status = result.status || "failed";
    this.body.setAttribute("data-status", status);
    this.row.textContent = "";
    var cell = function (label, value, extra) {
      return el("td", { "data-label": label, "class": extra || null }, [value]);
    };
    this.row.appendChild(el("th", { scope: "row", "data-label": "File", "class": "file-name" }, [result.file || this.file.name]));
    this.row.appendChild(cell("Region", result.region || "–"));
    this.row.appendChild(el("td", { "data-label": "Status" }, [badge(status)]));
    this.row.appendChild(cell("Read", formatCount(rows.read), "num"));
    this.row.appendChild(cell("Loaded", formatCount(rows.loaded), "num"));
    this.row.appendChild(cell("Rejected", formatCount(rows.rejected), "num"));
    this.row.appendChild(cell("Duplicates", formatCount(rows.duplicates), "num"));
    var hasRevenue = result.revenue !== undefined && result.revenue !== null && LOADED_STATES[status];
    var revenue = el("td", { "data-label": "Revenue", "class": "num revenue", "data-value": hasRevenue ? result.revenue : "" },
      [hasRevenue ? el("span", null, [formatMoney(result.revenue),
        result.currency ? el("span", { "class": "currency" }, [" " + result.currency]) : null]) : "–"]);
    this.row.appendChild(revenue);
    this.showDetails(result);
    announce((result.file || this.file.name) + ": " + statusText(status) +
      (rows.loaded !== undefined ? ", " + rows.loaded + (status === "checked" ? " rows would load" : " rows loaded") : "") +
      (rows.rejected ? ", " + rows.rejected + " rejected" : "") + ".");
  };

  FileEntry.prototype.showDetails = function (result) {
    var parts = [];
    if (result.error || result.message) {
      parts.push(el("p", { "class": "error", role: "alert" },
        [el("strong", null, [result.error ? result.error + ": " : "Error: "]), result.message || ""]));
    }
    if (result.status === "already_loaded") {
      parts.push(el("p", { "class": "note" }, ["The same file was loaded before for this region; nothing new was loaded."]));
    }
    if (result.encoding === "binary") {
      parts.push(el("p", { "class": "note" }, ["This is not a text file: save the sheet as CSV and upload that."]));
    } else if (result.encoding && result.encoding.toLowerCase() !== "utf-8") {
      parts.push(el("p", { "class": "note" }, ["Read as " + result.encoding + " (not UTF-8)."]));
    }
    var dialect = result.dialect;
    if (dialect && dialect.delimiter && dialect.delimiter !== "comma") {
      parts.push(el("p", { "class": "note" }, ["Read as " + dialect.delimiter + "-separated values" +
        (dialect.decimal_separator === "," ? ", with decimal commas." : ".")]));
    }
    var extra = result.extra_columns || result.extraColumns;
    if (extra && extra.length) {
      parts.push(el("p", { "class": "note" }, ["Columns ignored: " + extra.join(", ") + "."]));
    }
    var rejects = result.rejects || [];
    if (rejects.length) {
      var body = el("tbody");
      rejects.slice(0, REJECTS_SHOWN).forEach(function (reject) {
        body.appendChild(el("tr", null, [
          el("td", { "class": "num" }, [String(reject.line)]),
          el("td", null, [el("code", null, [String(reject.reason)])]),
          el("td", null, [String(reject.message || "")])
        ]));
      });
      var total = (result.rows && result.rows.rejected) || rejects.length;
      parts.push(el("details", { "class": "rejects" }, [
        el("summary", null, ["First rejected lines (" + Math.min(rejects.length, REJECTS_SHOWN) + " of " + formatCount(total) + ")"]),
        el("table", { "class": "rejects-table" }, [
          el("thead", null, [el("tr", null, [
            el("th", { scope: "col", "class": "num" }, ["Line"]),
            el("th", { scope: "col" }, ["Reason"]),
            el("th", { scope: "col" }, ["Message"])
          ])]),
          body
        ])
      ]));
    }
    var sample = result.sample || [];
    if (result.dry_run_of) {
      parts.push(el("p", { "class": "note" }, ["Checked only: nothing was stored or loaded. The Loaded column counts the rows an upload would load."]));
    }
    if (result.dry_run_of && result.status === "checked") {
      var entry = this;
      var go = el("button", { type: "button", "class": "button" }, ["Upload " + (result.file || entry.file.name)]);
      go.addEventListener("click", function () {
        go.disabled = true;
        go.textContent = "Uploading…";
        enqueueFile(result.dry_run_of, false, entry.settings);
      });
      parts.push(el("p", { "class": "actions" }, [go]));
    }
    if (sample.length) {
      var sampleBody = el("tbody");
      sample.forEach(function (row) {
        sampleBody.appendChild(el("tr", null, [
          el("td", { "class": "num" }, [String(row.line)]),
          el("td", null, [String(row.invoice_no)]),
          el("td", null, [String(row.stock_code)]),
          el("td", null, [row.description === null ? "–" : String(row.description)]),
          el("td", { "class": "num" }, [String(row.quantity)]),
          el("td", { "class": "when" }, [String(row.invoice_date).replace("T", " ")]),
          el("td", { "class": "num" }, [String(row.unit_price)]),
          el("td", null, [row.customer_id === null ? "–" : String(row.customer_id)]),
          el("td", null, [String(row.country)])
        ]));
      });
      parts.push(el("details", { "class": "rejects sample", open: "" }, [
        el("summary", null, ["First " + sample.length + " rows as they would be stored"]),
        el("div", { "class": "table-scroll" }, [el("table", { "class": "rejects-table sample-table" }, [
          el("thead", null, [el("tr", null, ["Line", "Invoice", "Stock code", "Description", "Quantity", "Date",
            "Unit price", "Customer", "Country"].map(function (name, index) {
            return el("th", { scope: "col", "class": index === 0 || index === 4 || index === 6 ? "num" : null }, [name]);
          }))]),
          sampleBody
        ])])
      ]));
    }
    if (result.rejects_uri) {
      parts.push(el("p", { "class": "note" }, ["All rejected lines: ", uriNode(result.rejects_uri)]));
    }
    if (result.object_uri) {
      parts.push(el("p", { "class": "note muted" }, ["Stored as ", uriNode(result.object_uri)]));
    }
    this.details.textContent = "";
    if (parts.length) {
      this.details.appendChild(el("td", { colspan: "8" }, parts));
      this.details.hidden = false;
    }
  };

  FileEntry.prototype.showError = function (code, message) {
    this.showResult({ file: this.file.name, status: "error", error: code, message: message });
  };

  // ---- uploading ------------------------------------------------------------

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF_TOKEN = csrfMeta ? csrfMeta.getAttribute("content") : "";
  function meta(name) {
    var node = document.querySelector('meta[name="' + name + '"]');
    return node ? node.getAttribute("content") : "";
  }
  var USER_NAME = meta("user-name");
  var USER_ROLE = meta("user-role");

  /** The session ended: go to the sign-in page, remembering which files were chosen. */
  function signInAgain(fileNames) {
    try {
      if (fileNames && fileNames.length) sessionStorage.setItem("sales-portal.pending-files", fileNames.join(", "));
    } catch (ignored) { /* private mode: the names are only a courtesy */ }
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  var form = document.getElementById("upload-form");
  // A viewer's page has no upload form: only the history below.
  if (form) {
  var input = document.getElementById("file");
  var region = document.getElementById("region");
  var delimiter = document.getElementById("delimiter");
  var dropZone = document.getElementById("drop-zone");
  // The drop zone stands in for the visually hidden input; keep the input out of the tab order.
  // Its name is now the drop zone's title: the label shown without JavaScript goes (a hidden
  // label would leave the input nameless).
  input.tabIndex = -1;
  var hiddenLabel = document.querySelector('label[for="file"]');
  if (hiddenLabel) hiddenLabel.parentNode.removeChild(hiddenLabel);
  input.setAttribute("aria-labelledby", "drop-title");

  function isCsv(file) {
    return /\.csv(\.gz)?$/i.test(file.name) || file.type === "text/csv";
  }

  var dryRun = document.getElementById("dry-run");

  /** Queues one file: checked only (`check`), or uploaded; with the form's region and delimiter,
   *  or with `settings` (those a check used, so that its upload loads what was checked). */
  function enqueue(file, check, settings) {
    var entry = new FileEntry(file);
    if (!isCsv(file)) {
      entry.showError("not_csv", "Only .csv (or .csv.gz) files can be uploaded.");
      return;
    }
    entry.settings = settings || { region: region.value, delimiter: delimiter ? delimiter.value : "" };
    waiting.push({ file: file, region: entry.settings.region, delimiter: entry.settings.delimiter, check: check, entry: entry });
    pump();
  }

  enqueueFile = enqueue;

  function uploadFiles(files) {
    var check = !!(dryRun && dryRun.checked);
    Array.prototype.slice.call(files || []).forEach(function (file) { enqueue(file, check); });
  }

  // Two files go up at a time (the server takes a few uploads of one client at once); the
  // others wait their turn, each with its own row already shown.
  var PARALLEL_UPLOADS = 2;
  var waiting = [];
  var sending = 0;

  function pump() {
    while (sending < PARALLEL_UPLOADS && waiting.length) {
      var next = waiting.shift();
      sending += 1;
      send(next.file, next.region, next.delimiter, next.check, next.entry);
    }
  }

  function send(file, regionValue, delimiterValue, check, entry) {
    var data = new FormData();
    if (CSRF_TOKEN) data.append("csrf", CSRF_TOKEN);
    if (regionValue) data.append("region", regionValue);
    if (delimiterValue) data.append("delimiter", delimiterValue);
    data.append("file", file, file.name);
    var request = new XMLHttpRequest();
    request.open("POST", check ? UPLOAD_URL + "?dry_run=1" : UPLOAD_URL);
    entry.checking = check;
    request.setRequestHeader("Accept", "application/json");
    if (CSRF_TOKEN) request.setRequestHeader("X-CSRF-Token", CSRF_TOKEN);
    request.addEventListener("loadend", function () {
      sending -= 1;
      pump();
    });
    request.upload.onprogress = function (event) {
      entry.onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    };
    request.upload.onload = function () { entry.onSent(); };
    request.onload = function () {
      entry.stopWatching();
      if (request.status === 401) {
        entry.showError("unauthenticated", "Your session has ended: sign in again, then choose " + file.name + " again.");
        signInAgain([file.name]);
        return;
      }
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = null; }
      if (body && body.dry_run && Array.isArray(body.files) && body.files.length) {
        // A check: nothing stored. The file itself is kept to upload it for real with one click.
        body.files.forEach(function (checked, index) {
          checked.dry_run_of = index === 0 ? file : null;
          (index === 0 ? entry : new FileEntry({ name: checked.file || file.name })).showResult(checked);
        });
        return;
      } else if (body && Array.isArray(body.uploads) && body.uploads.length) {
        entry.showResult(body.uploads[0]);
        for (var i = 1; i < body.uploads.length; i++) {
          new FileEntry({ name: body.uploads[i].file || file.name }).showResult(body.uploads[i]);
        }
      } else if (body && (body.error || body.message)) {
        entry.showError(body.error || "http_" + request.status, body.message || "");
      } else {
        entry.showError("http_" + request.status, "The server answered " + request.status + " " +
          (request.statusText || "") + " without a result.");
      }
      refreshRecent();
    };
    request.onerror = function () {
      entry.stopWatching();
      entry.showError("network_error", "The upload did not reach the server or the connection broke.");
      refreshRecent();
    };
    request.onabort = function () {
      entry.stopWatching();
      entry.showError("aborted", "The upload was cancelled.");
      refreshRecent();
    };
    request.send(data);
  }

  input.addEventListener("change", function () {
    uploadFiles(input.files);
    input.value = "";
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    uploadFiles(input.files);
    input.value = "";
  });

  dropZone.addEventListener("click", function () { input.click(); });

  ["dragenter", "dragover"].forEach(function (name) {
    dropZone.addEventListener(name, function (event) {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      dropZone.classList.add("is-over");
    });
  });
  ["dragleave", "dragend"].forEach(function (name) {
    dropZone.addEventListener(name, function () { dropZone.classList.remove("is-over"); });
  });
  dropZone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropZone.classList.remove("is-over");
    if (event.dataTransfer) uploadFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone must not make the browser navigate away.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });

  // ---- recent uploads -------------------------------------------------------

  } // if (form)

  try { sessionStorage.removeItem("sales-portal.pending-files"); } catch (ignored) { /* nothing to forget */ }

  var recent = document.getElementById("recent");
  var recentStatus = document.getElementById("recent-status");
  var recentRequest = null;

  function refreshRecent() {
    if (recentRequest) recentRequest.abort();
    var request = new XMLHttpRequest();
    recentRequest = request;
    request.open("GET", UPLOAD_URL);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      recentRequest = null;
      if (request.status === 401) { signInAgain([]); return; }
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = null; }
      if (request.status !== 200 || !body || !Array.isArray(body.uploads)) {
        recentStatus.textContent = "The history could not be loaded (HTTP " + request.status + ").";
        return;
      }
      renderRecent(body.uploads);
    };
    request.onerror = function () {
      recentRequest = null;
      recentStatus.textContent = "The history could not be loaded: the server did not answer.";
    };
    request.send();
  }

  // "2026-11-29T19:04:14.816201Z" → "29 Nov 2026, 19:04" in the reader's own time zone.
  function formatWhen(text) {
    var date = new Date(text);
    if (isNaN(date.getTime())) return text;
    return date.toLocaleString(undefined, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function renderRecent(uploads) {
    recent.textContent = "";
    recentStatus.textContent = uploads.length ? "" : "No uploads yet.";
    recentStatus.hidden = uploads.length > 0;
    uploads.forEach(function (upload) {
      var rows = upload.rows || {};
      var facts = [];
      var processed = upload.status === "loaded" || upload.status === "already_loaded";
      if (upload.region) facts.push(upload.region);
      if (processed && rows.loaded !== undefined) facts.push(formatCount(rows.loaded) + " rows loaded");
      if (processed && rows.rejected) facts.push(formatCount(rows.rejected) + " rejected");
      if (upload.status === "loaded" && upload.revenue !== undefined && upload.revenue !== null) {
        facts.push(formatMoney(upload.revenue) + (upload.currency ? " " + upload.currency : ""));
      }
      // Why a file was not loaded, in the server's words.
      if (!processed && upload.message) facts.push(upload.message);
      var when = upload.created_at || upload.createdAt;
      var retracted = upload.status === "retracted" || upload.status === "retracting";
      if (retracted && upload.retracted_by) {
        facts.push("taken back by " + upload.retracted_by + (upload.retracted_at ? " on " + formatWhen(String(upload.retracted_at)) : ""));
      }
      if (upload.user && upload.user !== "anonymous") facts.push("by " + upload.user);
      recent.appendChild(el("li", { "class": "recent-item" + (retracted ? " is-retracted" : "") }, [
        el("span", { "class": "recent-file" }, [
          el("a", { href: UPLOAD_URL + "/" + encodeURIComponent(upload.id) }, [upload.file || upload.id])
        ]),
        badge(upload.status),
        el("span", { "class": "recent-facts" }, [facts.join(" · ")]),
        when ? el("time", { "class": "recent-time muted", datetime: String(when) }, [formatWhen(String(when))]) : null,
        mayUndo(upload) ? undoButton(upload) : null
      ]));
    });
  }

  /** Whether this user may take the upload back: its own uploads, or any as an admin. */
  function mayUndo(upload) {
    var finished = ["loaded", "already_loaded", "rejected", "failed"].indexOf(upload.status) >= 0;
    if (!finished || !USER_ROLE || USER_ROLE === "viewer") return false;
    return USER_ROLE === "admin" || upload.user === USER_NAME;
  }

  function undoButton(upload) {
    var button = el("button", { type: "button", "class": "button button-quiet undo", "data-upload": upload.id },
      ["Undo"]);
    button.setAttribute("aria-label", "Take back " + (upload.file || upload.id));
    button.addEventListener("click", function () {
      var rows = upload.rows || {};
      var question = "Take back " + (upload.file || upload.id) + " (" + upload.region + ")?\n\n" +
        formatCount(rows.loaded || 0) + " rows and revenue " + formatMoney(upload.revenue || "0") +
        (upload.currency ? " " + upload.currency : "") + " leave every report. The raw file is kept.";
      if (!window.confirm(question)) return;
      button.disabled = true;
      button.textContent = "Taking back…";
      var request = new XMLHttpRequest();
      request.open("DELETE", UPLOAD_URL + "/" + encodeURIComponent(upload.id));
      request.setRequestHeader("Accept", "application/json");
      if (CSRF_TOKEN) request.setRequestHeader("X-CSRF-Token", CSRF_TOKEN);
      request.onload = function () {
        if (request.status === 401) { signInAgain([]); return; }
        if (request.status !== 200) {
          var answer = null;
          try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = null; }
          live.textContent = "Could not take back " + (upload.file || upload.id) + ": " +
            (answer && answer.message ? answer.message : "HTTP " + request.status);
          recentStatus.textContent = live.textContent;
          recentStatus.hidden = false;
        } else {
          live.textContent = (upload.file || upload.id) + " was taken back.";
        }
        refreshRecent();
      };
      request.onerror = function () { button.disabled = false; button.textContent = "Undo"; };
      request.send();
    });
    return button;
  }

  document.getElementById("recent-refresh").addEventListener("click", refreshRecent);
  refreshRecent();

  // Exposed for the page's own checks in a browser console.
  window.salesPortal = { formatMoney: formatMoney };
});
