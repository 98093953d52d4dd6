/* Sales dashboard: figures from /api/report/*, charts drawn as SVG here, filters kept in the URL.
   Money arrives as decimal strings and is only ever formatted as text (never through a float);
   floats are used for bar lengths and chart positions only. */
"use strict";
document.documentElement.classList.replace("no-js", "js");

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var FILTERS = ["region", "country", "product", "from", "to"];
  var PAGE_SIZE = 25;
  // The regions the signed-in user may see ("*" = all): "All regions" means only theirs.
  var regionsMeta = document.querySelector('meta[name="user-regions"]');
  var userRegions = regionsMeta ? regionsMeta.getAttribute("content") : "*";
  var ALL_REGIONS = !userRegions || userRegions === "*" ? "All regions" : "All your regions (" + userRegions.split(",").join(", ") + ")";
  var SYMBOLS = { GBP: "£", USD: "$", EUR: "€", INR: "₹", JPY: "¥" };
  var currency = null;
  var data = {};            // the latest answers, for CSV export
  var requestNumber = 0;    // answers to an older state are dropped

  // ---------- number formatting (text only) ----------
  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  /** "1234567.5" → "£1,234,567.50"; "-3.1" → "−£3.10". */
  function money(text) {
    var value = String(text == null ? "0" : text).trim();
    var negative = value.charAt(0) === "-";
    if (negative || value.charAt(0) === "+") value = value.slice(1);
    var parts = value.split(".");
    var whole = (parts[0] || "0").replace(/^0+(?=\d)/, "");
    var fraction = ((parts[1] || "") + "00").slice(0, Math.max(2, (parts[1] || "").length));
    var symbol = currency ? (SYMBOLS[currency] || currency + " ") : "";
    var zero = /^0*$/.test(whole + fraction);
    return (negative && !zero ? "−" : "") + symbol + group(whole) + "." + fraction;
  }
  function count(n) {
    var text = String(n);
    return text.charAt(0) === "-" ? "−" + group(text.slice(1)) : group(text);
  }
  /** For chart geometry only. */
  function approx(text) { return parseFloat(text) || 0; }
  function shortMoney(value) {
    var abs = Math.abs(value), symbol = currency ? (SYMBOLS[currency] || "") : "";
    var sign = value < 0 ? "−" : "";
    if (abs >= 1e6) return sign + symbol + (abs / 1e6).toFixed(abs >= 1e7 ? 0 : 1) + "M";
    if (abs >= 1e3) return sign + symbol + (abs / 1e3).toFixed(abs >= 1e4 ? 0 : 1) + "k";
    return sign + symbol + abs.toFixed(0);
  }
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function dateLabel(iso, grain) {
    var y = iso.slice(0, 4), m = MONTHS[parseInt(iso.slice(5, 7), 10) - 1], d = parseInt(iso.slice(8, 10), 10);
    return grain === "month" ? m + " " + y : d + " " + m + " " + y;
  }

  // ---------- state in the URL ----------
  function readState() {
    var params = new URLSearchParams(location.search);
    var state = {};
    FILTERS.forEach(function (name) { state[name] = params.get(name) || ""; });
    state.grain = params.get("grain") || "";
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    state.invoice = params.get("invoice") || "";
    return state;
  }
  function query(state, extra) {
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) { if (state[name]) params.set(name, state[name]); });
    Object.keys(extra || {}).forEach(function (key) {
      if (extra[key] !== "" && extra[key] != null) params.set(key, extra[key]);
    });
    return params.toString();
  }
  function navigate(changes, focusTarget) {
    var state = readState();
    Object.keys(changes).forEach(function (key) { state[key] = changes[key]; });
    var search = query(state, {
      grain: state.grain, page: state.page > 1 ? state.page : "", invoice: state.invoice
    });
    history.pushState(null, "", location.pathname + (search ? "?" + search : ""));
    render(focusTarget);
  }

  // ---------- fetching ----------
  function getJSON(path, attempt) {
    attempt = attempt || 0;
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (response) {
      // The server computes a few questions of one client at a time: ask again when it says so.
      if ((response.status === 429 || response.status === 503) && attempt < 20) {
        var wait = Math.min(2000, 1000 * (parseFloat(response.headers.get("Retry-After")) || 0.25)) / 4 + 50 * attempt;
        return new Promise(function (resolve) { setTimeout(resolve, wait); }).then(function () {
          return getJSON(path, attempt + 1);
        });
      }
      if (response.status === 401) {
        // The session ended: sign in again and come back to the same view.
        location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
        throw new Error("Your session has ended.");
      }
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body && body.message ? body.message : "HTTP " + response.status);
        return body;
      });
    });
  }

  function el(name, attrs, children) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function svg(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function setStatus(text, isError) {
    var status = $("status");
    status.textContent = text;
    status.classList.toggle("status-error", !!isError);
  }

  // ---------- filters form ----------
  function fillSelect(select, values, allLabel, current) {
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: allLabel }));
    values.forEach(function (value) { select.appendChild(el("option", { value: value, text: value })); });
    if (current && values.indexOf(current) < 0) select.appendChild(el("option", { value: current, text: current }));
    select.value = current;
  }
  function syncForm(state, options) {
    if (options) {
      fillSelect($("f-region"), options.regions, ALL_REGIONS, state.region);
      fillSelect($("f-country"), options.countries, "All countries", state.country);
      if (options.first_date) { $("f-from").min = options.first_date; $("f-to").min = options.first_date; }
      if (options.last_date) { $("f-from").max = options.last_date; $("f-to").max = options.last_date; }
    } else {
      $("f-region").value = state.region;
      $("f-country").value = state.country;
    }
    $("f-product").value = state.product;
    $("f-from").value = state.from;
    $("f-to").value = state.to;
  }
  function describe(state) {
    var parts = [state.region ? "Region " + state.region : ALL_REGIONS];
    if (state.country) parts.push(state.country);
    if (state.product) parts.push("products matching “" + state.product + "”");
    if (state.from && state.to) parts.push(state.from + " to " + state.to);
    else if (state.from) parts.push("from " + state.from);
    else if (state.to) parts.push("up to " + state.to);
    else parts.push("all dates");
    return parts.join(" · ");
  }

  // ---------- drill-down path ----------
  function renderCrumbs(state) {
    var list = $("crumbs").querySelector("ol");
    list.textContent = "";
    var steps = [{ label: ALL_REGIONS, changes: { region: "", country: "", invoice: "", page: 1 } }];
    if (state.region) steps.push({ label: state.region, changes: { country: "", invoice: "", page: 1 } });
    if (state.country) steps.push({ label: state.country, changes: { invoice: "", page: 1 } });
    if (state.invoice) steps.push({ label: "Invoice " + state.invoice.split("/").slice(1).join("/") });
    steps.forEach(function (step, index) {
      var item = el("li");
      if (index === steps.length - 1) {
        item.appendChild(el("span", { "aria-current": "location", text: step.label }));
      } else {
        var link = el("a", { href: "#", text: step.label });
        link.addEventListener("click", function (event) { event.preventDefault(); navigate(step.changes); });
        item.appendChild(link);
      }
      list.appendChild(item);
    });
  }

  // ---------- KPI tiles ----------
  function renderSummary(summary) {
    $("kpi-revenue").textContent = money(summary.revenue);
    $("kpi-orders").textContent = count(summary.orders);
    $("kpi-aov").textContent = money(summary.average_order_value);
    $("kpi-units").textContent = count(summary.units);
    $("kpi-customers").textContent = count(summary.customers);
    $("kpi-cancellations").textContent = count(summary.cancellations);
  }

  // ---------- time series (SVG area chart) ----------
  function niceStep(range, ticks) {
    var raw = range / ticks, power = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
    return 10 * power;
  }
  // Periods without sales are left out by the API; the chart shows them as zero so that
  // its horizontal axis is time, evenly spaced.
  function withEmptyPeriods(points, grain) {
    if (points.length < 2) { return points; }
    var byPeriod = {};
    points.forEach(function (p) { byPeriod[p.period] = p; });
    function parse(text) { var d = text.split("-"); return Date.UTC(+d[0], +d[1] - 1, +d[2]); }
    function format(ms) { return new Date(ms).toISOString().slice(0, 10); }
    function next(ms) {
      var d = new Date(ms);
      if (grain === "month") { return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1); }
      return ms + (grain === "week" ? 7 : 1) * 86400000;
    }
    var filled = [], end = parse(points[points.length - 1].period);
    for (var ms = parse(points[0].period); ms <= end && filled.length < 5000; ms = next(ms)) {
      var period = format(ms);
      filled.push(byPeriod[period] || { period: period, revenue: "0.00", orders: 0, units: 0 });
    }
    return filled;
  }

  function renderTrend(series) {
    var box = $("trend-chart");
    box.textContent = "";
    var points = withEmptyPeriods(series.points, series.grain);
    if (!points.length) { box.appendChild(el("p", { className: "empty", text: "No sales match these filters." })); return; }
    // Drawn at the box's own width so that text keeps its size on a phone.
    var width = Math.max(300, Math.round(box.clientWidth || 760)), narrow = width < 560;
    var height = narrow ? 220 : 280, left = 58, right = 14, top = 16, bottom = 34;
    var values = points.map(function (p) { return approx(p.revenue); });
    var low = Math.min(0, Math.min.apply(null, values)), high = Math.max(0, Math.max.apply(null, values));
    if (high === low) high = low + 1;
    var step = niceStep(high - low, 4);
    low = Math.floor(low / step) * step; high = Math.ceil(high / step) * step;
    function x(i) { return left + (points.length === 1 ? (width - left - right) / 2 : i * (width - left - right) / (points.length - 1)); }
    function y(v) { return top + (high - v) * (height - top - bottom) / (high - low); }
    var first = points[0], last = points[points.length - 1];
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": "trend-svg-title trend-svg-desc", preserveAspectRatio: "xMidYMid meet" });
    var title = svg("title", { id: "trend-svg-title" });
    title.textContent = "Revenue per " + series.grain;
    var desc = svg("desc", { id: "trend-svg-desc" });
    desc.textContent = points.length + " periods from " + dateLabel(first.period, series.grain) + " to " + dateLabel(last.period, series.grain) +
      "; the table below lists every figure.";
    chart.appendChild(title); chart.appendChild(desc);
    for (var tick = low; tick <= high + step / 2; tick += step) {
      chart.appendChild(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: tick === 0 ? "axis" : "grid" }));
      var label = svg("text", { x: left - 8, y: y(tick) + 4, class: "tick", "text-anchor": "end" });
      label.textContent = shortMoney(tick);
      chart.appendChild(label);
    }
    var labelCount = Math.min(points.length, narrow ? 3 : 6);
    var shown = {};
    for (var k = 0; k < labelCount; k++) {
      var index = labelCount === 1 ? 0 : Math.round(k * (points.length - 1) / (labelCount - 1));
      if (shown[index]) continue;
      shown[index] = true;
      var xl = svg("text", { x: x(index), y: height - 10, class: "tick", "text-anchor": k === 0 ? "start" : k === labelCount - 1 ? "end" : "middle" });
      xl.textContent = dateLabel(points[index].period, series.grain);
      chart.appendChild(xl);
    }
    var line = points.map(function (p, i) { return (i ? "L" : "M") + x(i).toFixed(1) + " " + y(values[i]).toFixed(1); }).join(" ");
    var base = y(Math.max(low, 0));
    chart.appendChild(svg("path", { d: line + " L" + x(points.length - 1).toFixed(1) + " " + base + " L" + x(0).toFixed(1) + " " + base + " Z", class: "area" }));
    chart.appendChild(svg("path", { d: line, class: "line" }));
    if (points.length <= 60) {
      points.forEach(function (p, i) {
        var dot = svg("circle", { cx: x(i), cy: y(values[i]), r: 3.5, class: "dot" });
        var tip = svg("title");
        tip.textContent = dateLabel(p.period, series.grain) + ": " + money(p.revenue) + ", " + count(p.orders) + " orders";
        dot.appendChild(tip);
        chart.appendChild(dot);
      });
    }
    box.appendChild(chart);
  }
  function renderTrendTable(series) {
    fillTable($("trend-table"), ["Period starting", "Revenue", "Orders", "Units"], [false, true, true, true],
      series.points.map(function (p) { return [p.period, money(p.revenue), count(p.orders), count(p.units)]; }),
      "Revenue per " + series.grain);
  }

  // ---------- bars (SVG, each bar a button) ----------
  function renderBars(box, groups, dimension, onChoose, selected) {
    box.textContent = "";
    if (!groups.length) { box.appendChild(el("p", { className: "empty", text: "No sales match these filters." })); return; }
    var width = Math.max(280, Math.round(box.clientWidth || 520));
    var rowHeight = 36, labelWidth = width < 400 ? 96 : 130, valueWidth = 118;
    var height = groups.length * rowHeight + 4;
    var max = Math.max.apply(null, groups.map(function (g) { return Math.abs(approx(g.revenue)); })) || 1;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "list", "aria-label": "Revenue by " + dimension });
    groups.forEach(function (g, i) {
      var value = approx(g.revenue);
      var barWidth = Math.max(2, Math.abs(value) / max * (width - labelWidth - valueWidth - 12));
      var label = dimension + " " + g.key + ": revenue " + money(g.revenue) + ", " + count(g.orders) + " orders";
      var item = svg("g", { role: "listitem" });
      var button = svg("g", { role: "button", tabindex: "0", "aria-label": label, class: "bar" + (selected === g.key ? " is-selected" : ""), "data-key": g.key });
      var yTop = i * rowHeight + 2;
      button.appendChild(svg("rect", { x: 0, y: yTop, width: width, height: rowHeight - 4, class: "bar-hit", rx: 4 }));
      var name = svg("text", { x: 6, y: yTop + rowHeight / 2 + 2, class: "bar-label" });
      // Bold 15 px text is about 10 px a character: longer names are cut, with the whole one as a tooltip.
      var room = Math.floor((labelWidth - 10) / 10);
      name.textContent = g.key.length > room ? g.key.slice(0, room - 1) + "…" : g.key;
      if (g.key.length > room) { var full = svg("title", {}); full.textContent = g.key; name.appendChild(full); }
      button.appendChild(name);
      button.appendChild(svg("rect", { x: labelWidth, y: yTop + 5, width: barWidth, height: rowHeight - 14, rx: 3, class: value < 0 ? "bar-fill negative" : "bar-fill" }));
      var amount = svg("text", { x: width - 6, y: yTop + rowHeight / 2 + 2, class: "bar-value", "text-anchor": "end" });
      amount.textContent = money(g.revenue);
      button.appendChild(amount);
      function choose() { onChoose(g.key); }
      button.addEventListener("click", choose);
      button.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(); }
      });
      item.appendChild(button);
      chart.appendChild(item);
    });
    box.appendChild(chart);
  }

  // ---------- tables ----------
  function fillTable(table, headings, numeric, rows, caption, decorate) {
    table.textContent = "";
    if (caption) table.appendChild(el("caption", { className: "visually-hidden", text: caption }));
    var head = el("tr");
    headings.forEach(function (h, i) { head.appendChild(el("th", { scope: "col", className: numeric[i] ? "num" : "", text: h })); });
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    if (!rows.length) {
      body.appendChild(el("tr", {}, [el("td", { colspan: String(headings.length), className: "empty", text: "Nothing matches these filters." })]));
    }
    rows.forEach(function (cells, r) {
      var tr = el("tr");
      cells.forEach(function (cell, i) {
        var td = el(i === 0 ? "th" : "td", { className: numeric[i] ? "num" : "", "data-label": headings[i] });
        if (i === 0) td.setAttribute("scope", "row");
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell == null ? "" : cell;
        tr.appendChild(td);
      });
      if (decorate) decorate(tr, r);
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function renderProducts(groups) {
    fillTable($("products-table"), ["Stock code", "Description", "Revenue", "Orders", "Units"], [false, false, true, true, true],
      groups.map(function (g) {
        var link = el("a", { href: "?" + query(readState(), { product: g.key }), text: g.key, "aria-label": "Filter by product " + g.key });
        link.addEventListener("click", function (event) { event.preventDefault(); navigate({ product: g.key, page: 1, invoice: "" }); });
        return [link, g.label || "", money(g.revenue), count(g.orders), count(g.units)];
      }), "Top products by revenue");
  }

  function renderInvoices(page) {
    fillTable($("invoices-table"), ["Invoice", "Region", "Time", "Country", "Customer", "Lines", "Revenue"],
      [false, false, false, false, false, true, true],
      page.invoices.map(function (inv) {
        var button = el("button", { type: "button", className: "link-button", text: inv.invoice_no, "aria-label": "Show the lines of invoice " + inv.invoice_no + " (" + inv.region + ")" });
        button.addEventListener("click", function () { navigate({ invoice: inv.region + "/" + inv.invoice_no }, "lines-title"); });
        var cell = el("span", {}, [button]);
        if (inv.is_cancellation) cell.appendChild(el("span", { className: "badge badge-cancel", text: "Cancelled" }));
        return [cell, inv.region, inv.time.replace("T", " ").slice(0, 16), inv.country, inv.customer || "—", count(inv.lines), money(inv.revenue)];
      }), "Invoices, newest first",
      function (tr, r) { if (page.invoices[r].is_cancellation) tr.className = "is-cancellation"; });
    var pages = Math.max(1, Math.ceil(page.total / page.page_size));
    $("page-info").textContent = "Page " + count(page.page) + " of " + count(pages) + " · " + count(page.total) + " invoices";
    $("prev-page").disabled = page.page <= 1;
    $("next-page").disabled = page.page >= pages;
  }

  function renderInvoice(invoice) {
    var section = $("lines-section");
    section.hidden = false;
    $("lines-title").textContent = "Invoice " + invoice.invoice_no + " · " + invoice.region;
    var facts = $("invoice-facts");
    facts.textContent = "";
    [["Time", (invoice.time || "").replace("T", " ")], ["Country", invoice.country], ["Customer", invoice.customer || "—"],
     ["Revenue", money(invoice.revenue)], ["Units", count(invoice.units)], ["Type", invoice.is_cancellation ? "Cancellation" : "Sale"]]
      .forEach(function (pair) { facts.appendChild(el("dl", {}, [el("dt", { text: pair[0] }), el("dd", { text: pair[1] })])); });
    fillTable($("lines-table"), ["Stock code", "Description", "Quantity", "Unit price", "Revenue", "File line"],
      [false, false, true, true, true, true],
      invoice.lines.map(function (l) {
        return [l.stock_code, (l.description || "") + (l.is_product ? "" : " (not a product)"), count(l.quantity), money(l.unit_price), money(l.revenue), count(l.source_line)];
      }), "Lines of invoice " + invoice.invoice_no);
  }

  // ---------- CSV export (client-side) ----------
  function csvCell(value) {
    var text = value == null ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = "'" + text;  // keep spreadsheets from running formulas
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  var EXPORTS = {
    trend: function () { return [["period_start", "revenue", "orders", "units"]].concat((data.trend ? data.trend.points : []).map(function (p) { return [p.period, p.revenue, p.orders, p.units]; })); },
    regions: function () { return breakdownRows("region", data.regions); },
    countries: function () { return breakdownRows("country", data.countries); },
    products: function () { return [["stock_code", "description", "revenue", "orders", "units"]].concat((data.products || []).map(function (g) { return [g.key, g.label, g.revenue, g.orders, g.units]; })); },
    invoices: function () { return [["region", "invoice_no", "time", "country", "customer", "lines", "revenue", "is_cancellation"]].concat((data.invoices ? data.invoices.invoices : []).map(function (i) { return [i.region, i.invoice_no, i.time, i.country, i.customer, i.lines, i.revenue, i.is_cancellation]; })); },
    lines: function () { return [["stock_code", "description", "quantity", "unit_price", "revenue", "is_product", "source_line"]].concat((data.invoice ? data.invoice.lines : []).map(function (l) { return [l.stock_code, l.description, l.quantity, l.unit_price, l.revenue, l.is_product, l.source_line]; })); }
  };
  function breakdownRows(name, groups) {
    return [[name, "revenue", "orders", "units"]].concat((groups || []).map(function (g) { return [g.key, g.revenue, g.orders, g.units]; }));
  }
  function download(kind) {
    var rows = EXPORTS[kind]();
    var text = rows.map(function (row) { return row.map(csvCell).join(","); }).join("\r\n") + "\r\n";
    var url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    var link = el("a", { href: url, download: "sales-" + kind + ".csv" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    setStatus("Downloaded sales-" + kind + ".csv (" + (rows.length - 1) + " rows).");
  }

  // ---------- loading everything for the URL's state ----------
  function defaultGrain(state, options) {
    var from = state.from || (options && options.first_date), to = state.to || (options && options.last_date);
    if (!from || !to) return "month";
    var days = (Date.parse(to) - Date.parse(from)) / 86400000;
    return days <= 62 ? "day" : days <= 366 ? "week" : "month";
  }

  function redrawCharts() {
    var state = readState();
    renderTrend(data.trend);
    renderBars($("region-chart"), data.regions, "region", function (key) { navigate({ region: key, country: "", page: 1, invoice: "" }, "country-title"); }, state.region);
    renderBars($("country-chart"), data.countries, "country", function (key) { navigate({ country: key, page: 1, invoice: "" }, "invoices-title"); }, state.country);
  }

  var optionsPromise = null;
  function render(focusTarget) {
    var state = readState();
    var mine = ++requestNumber;
    renderCrumbs(state);
    $("scope").textContent = describe(state);
    document.body.setAttribute("aria-busy", "true");
    setStatus("Loading…");
    optionsPromise = optionsPromise || getJSON("/api/report/options");
    optionsPromise.then(function (options) {
      currency = options.currency || null;
      syncForm(state, options);
      if (options.looker_url) { $("looker-link").href = options.looker_url; $("looker-link").hidden = false; }
      var grain = state.grain || defaultGrain(state, options);
      $("grain").value = grain;
      var filters = query(state);
      var amp = filters ? "&" + filters : "";
      var requests = [
        getJSON("/api/report/summary?" + filters),
        getJSON("/api/report/timeseries?grain=" + grain + amp),
        getJSON("/api/report/breakdown?by=region&limit=20" + amp),
        getJSON("/api/report/breakdown?by=country&limit=15" + amp),
        getJSON("/api/report/breakdown?by=product&limit=10" + amp),
        getJSON("/api/report/invoices?page=" + state.page + "&page_size=" + PAGE_SIZE + amp)
      ];
      var parts = state.invoice.split("/");
      if (state.invoice && parts.length >= 2) {
        requests.push(getJSON("/api/report/invoices/" + encodeURIComponent(parts[0]) + "/" + encodeURIComponent(parts.slice(1).join("/"))));
      }
      return Promise.all(requests);
    }).then(function (answers) {
      if (mine !== requestNumber) return;
      data = { summary: answers[0], trend: answers[1], regions: answers[2].groups, countries: answers[3].groups,
               products: answers[4].groups, invoices: answers[5], invoice: answers[6] || null };
      renderSummary(data.summary);
      renderTrendTable(data.trend);
      redrawCharts();
      renderProducts(data.products);
      renderInvoices(data.invoices);
      if (data.invoice) renderInvoice(data.invoice); else $("lines-section").hidden = true;
      document.body.setAttribute("aria-busy", "false");
      document.body.setAttribute("data-loaded", String(mine));
      setStatus("Showing " + describe(state) + ": revenue " + money(data.summary.revenue) + ".");
      if (focusTarget && $(focusTarget)) {
        var target = $(focusTarget);
        if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target.focus();
        target.scrollIntoView({ block: "start" });
      }
    }).catch(function (error) {
      if (mine !== requestNumber) return;
      optionsPromise = null;
      document.body.setAttribute("aria-busy", "false");
      setStatus("The figures could not be loaded: " + error.message, true);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      var changes = { page: 1, invoice: "" };
      FILTERS.forEach(function (name) { changes[name] = $("f-" + name).value.trim(); });
      if (changes.from && changes.to && changes.from > changes.to) {
        setStatus("“From” must not be after “To”.", true);
        $("f-from").focus();
        return;
      }
      navigate(changes);
    });
    $("reset").addEventListener("click", function () {
      navigate({ region: "", country: "", product: "", from: "", to: "", page: 1, invoice: "", grain: "" });
    });
    $("grain").addEventListener("change", function () { navigate({ grain: $("grain").value }); });
    $("prev-page").addEventListener("click", function () { navigate({ page: Math.max(1, readState().page - 1) }, "invoices-title"); });
    $("next-page").addEventListener("click", function () { navigate({ page: readState().page + 1 }, "invoices-title"); });
    $("close-lines").addEventListener("click", function () { navigate({ invoice: "" }, "invoices-title"); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-csv]"), function (button) {
      button.addEventListener("click", function () { download(button.getAttribute("data-csv")); });
    });
    window.addEventListener("popstate", function () { render(); });
    var resizeTimer = null, lastWidth = window.innerWidth;
    window.addEventListener("resize", function () {
      if (window.innerWidth === lastWidth || !data.trend) return;
      lastWidth = window.innerWidth;
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(redrawCharts, 150);
    });
    render();
  });
})();
