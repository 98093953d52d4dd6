"""Writes bench/RESULTS.md from the measurements gathered by bench.py (and bench/reports.py, bench/attacks.py)."""
import glob
import json
import math
import os
import statistics
import time

REPORTS_HEADING = "## Reports on big warehouses"


def spread(values, digits=0):
    if not values:
        return "—"
    fmt = f"{{:,.{digits}f}}"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt.format(median) + " (1 run)"
    return f"{fmt.format(median)} ({fmt.format(min(values))}–{fmt.format(max(values))}, {len(values)} runs)"


def values(results, key, field):
    return [run[field] for run in results["runs"].get(key, []) if run.get(field) is not None]


def median(results, key, field):
    found = values(results, key, field)
    return statistics.median(found) if found else None


def ratio(ours, peer):
    if ours is None or peer is None or peer == 0:
        return "—"
    return f"{ours / peer:.2f}×"


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**not met**")


def peak(results, key):
    found = results["rss"].get(key)
    return max(found) if found else None


def write_report(results, args, path):
    lines = []
    add = lines.append
    before, after = results["machine_before"], results["machine_after"]
    add("# Benchmarks")
    add("")
    add(f"One run of `bench/run.sh`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{results['duration_s'] / 60:.1f} minutes. Loopback only (127.0.0.1); the load generators "
        "(wrk, curl, the idle-connection client) share the machine's cores with the servers.")
    add("")
    add(f"Machine: {before['nproc']} CPUs ({before['cpu']}), kernel {before['kernel']}, memory {before['memory']}. "
        f"Load average (1/5/15 min) before: {' / '.join(before['load'])}, after: {' / '.join(after['load'])} — "
        "other work on the machine makes wall-clock figures noisy; CPU seconds are given where they decide.")
    add("")
    add("Medians, with min–max and the number of runs in brackets. Ratios are ours ÷ peer's medians "
        "(above 1 is better for throughput, below 1 is better for latency).")
    add("")
    add("## Headline")
    add("")
    add("| Measure | SalesPortal | Peer | Peer's figure | Ratio | Target | |")
    add("|---|---|---|---|---|---|---|")

    def row(measure, ours_key, peer_name, peer_key, field, digits, target_text, check, scale=1.0):
        ours_values = [v * scale for v in values(results, ours_key, field)]
        peer_values = [v * scale for v in values(results, peer_key, field)] if peer_key else []
        ours_median = statistics.median(ours_values) if ours_values else None
        peer_median = statistics.median(peer_values) if peer_values else None
        ok = check(ours_median, peer_median) if ours_median is not None else None
        add(f"| {measure} | {spread(ours_values, digits)} | {peer_name} | {spread(peer_values, digits) if peer_key else '—'} "
            f"| {ratio(ours_median, peer_median) if peer_key else '—'} | {target_text} | {verdict(ok)} |")

    for name, label in (("healthz", "GET /healthz"), ("static", "GET 4 KB static page")):
        row(f"{label}, requests/s", f"{name}/ours", "nginx (2 workers)", f"{name}/nginx", "rps", 0,
            "≥ 1.0× nginx" if name == "healthz" else "",
            (lambda o, p: p is not None and o >= p) if name == "healthz" else (lambda o, p: None))
        row(f"{label}, p99 latency ms", f"{name}/ours", "nginx (2 workers)", f"{name}/nginx", "p99_ms", 2,
            "< 5 ms" if name == "healthz" else "", (lambda o, p: o < 5) if name == "healthz" else (lambda o, p: None))
    for label, _ in args.files:
        row(f"raw upload {label} rows, MB/s", f"raw-{label}/ours", "nginx spooling to disk", f"raw-{label}/nginx",
            "mb_per_s", 0, "≥ 0.8× nginx", lambda o, p: p is not None and o >= 0.8 * p)
    for label, _ in args.files:
        row(f"whole pipeline into SQLite, {label} rows, rows/s", f"pipeline-{label}/ours", "Flask portal (gunicorn)",
            f"pipeline-{label}/flask", "rows_per_s", 0, "≥ 750,000 rows/s" if label == "1M" else "",
            (lambda o, p: o >= 750_000) if label == "1M" else (lambda o, p: None))
    for label, _ in args.files:
        row(f"`sales-portal ingest`, {label} rows, rows/s", f"ingest-{label}/ours", "", None, "rows_per_s", 0, "",
            lambda o, p: None)
    row("/healthz p99 ms with 10,000 idle keep-alive connections", "idle/ours", "nginx, same 10,000",
        "idle/nginx", "p99_ms", 2, "< 10 ms", lambda o, p: o < 10)
    row("/healthz requests/s with 10,000 idle connections", "idle/ours", "nginx, same 10,000", "idle/nginx", "rps", 0,
        "", lambda o, p: None)
    rss_keys = [key for key in results["rss"] if key.endswith("/ours")]
    rss_all = [peak(results, key) for key in rss_keys]
    ingest_rss = [run["peak_rss_mib"] for key, runs in results["runs"].items() if key.startswith("ingest-")
                  for run in runs]
    worst = max(rss_all + ingest_rss) if rss_all or ingest_rss else None
    add(f"| peak RSS over every scenario, MiB | {worst:.1f} | | | | ≤ 48 MiB | {verdict(worst <= 48)} |"
        if worst is not None else "| peak RSS | — | | | | ≤ 48 MiB | — |")
    add("")

    add("## Peak memory per scenario (VmHWM, MiB)")
    add("")
    add("Each scenario starts its servers afresh, so a peak belongs to one scenario. nginx and gunicorn "
        "figures are the sum over the master and its workers (an upper bound: shared pages count once per process).")
    add("")
    add("| Scenario | SalesPortal | nginx | Flask (gunicorn) |")
    add("|---|---|---|---|")
    scenarios = []
    for key in results["rss"]:
        name = key.rsplit("/", 1)[0]
        for suffix in ("-nginx", "-flask", "-ours"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        if name not in scenarios:
            scenarios.append(name)

    def cell(key):
        value = peak(results, key)
        return f"{value:.1f}" if value is not None else ""

    for name in scenarios:
        ours = cell(f"{name}/ours") or cell(f"{name}-ours/ours")
        nginx = cell(f"{name}/nginx") or cell(f"{name}-nginx/nginx")
        flask = cell(f"{name}/flask") or cell(f"{name}-flask/flask")
        add(f"| {name} | {ours} | {nginx} | {flask} |")
    for label, _ in args.files:
        found = values(results, f"ingest-{label}/ours", "peak_rss_mib")
        if found:
            add(f"| ingest {label} (whole process, ru_maxrss) | {max(found):.1f} | | |")
    add("")

    add("## Rows per CPU second")
    add("")
    add("CPU time of the server process (user + system) during the upload, or of the `ingest` process; "
        "it is steadier than wall time on a shared machine.")
    add("")
    add("| Measure | rows per CPU second | CPU seconds |")
    add("|---|---|---|")
    for label, _ in args.files:
        for key, name in ((f"pipeline-{label}/ours", f"whole pipeline over HTTP, {label}"),
                          (f"ingest-{label}/ours", f"ingest, {label}")):
            add(f"| {name} | {spread(values(results, key, 'rows_per_cpu_s'))} | {spread(values(results, key, 'cpu_s'), 2)} |")
    for key in results["runs"]:
        if key.startswith("ceiling/"):
            add(f"| SQLite ceiling, {key.split('/', 1)[1]} (1M pre-built rows) | "
                f"{spread(values(results, key, 'rows_per_cpu_s'))} | {spread(values(results, key, 'seconds'), 2)} wall |")
    add("")

    add("## Upload details")
    add("")
    add("| Measure | seconds |")
    add("|---|---|")
    for label, _ in args.files:
        for key, name in ((f"raw-{label}/ours", "SalesPortal raw upload (file already loaded: answered `already_loaded`)"),
                          (f"raw-{label}/nginx", "nginx spooling the body to a file"),
                          (f"pipeline-{label}/ours", "SalesPortal whole pipeline"),
                          (f"pipeline-{label}/flask", "Flask portal whole pipeline")):
            add(f"| {label}: {name} | {spread(values(results, key, 'seconds'), 2)} |")
        stores = values(results, f"pipeline-{label}/ours", "store_ms")
        if stores:
            add(f"| {label}: SalesPortal `timings.store_ms` of the first upload (adopting the spool file, "
                f"recording the upload), in milliseconds | {spread(stores, 2)} |")
    for key in results["runs"]:
        if key.startswith("ceiling/"):
            add(f"| SQLite ceiling, {key.split('/', 1)[1]}: rows/s wall | {spread(values(results, key, 'rows_per_s'))} |")
    add("")

    reports = latest_reports(args.out)
    if reports:
        lines += reports_section(reports)
    attacks = latest_reports(args.out, "attacks")
    if attacks:
        from attacks import render as attacks_section
        lines += attacks_section(attacks)

    add("## Method")
    add("")
    add(f"- **HTTP**: `wrk -t2 -c64 -d{args.wrk_seconds}s --latency`, keep-alive, {args.rounds} rounds alternating "
        "SalesPortal and nginx on the same scenario after a 1 s warm-up of each; nginx runs 2 worker processes, "
        "SalesPortal its defaults (2 event-loop threads). nginx answers /healthz with `return 200` and keeps "
        "connections for any number of requests (`keepalive_requests` raised from its default 1000), as SalesPortal "
        "does. Both write an access log to a file. The 4 KB page "
        "(`bench/static/page.html`) is served by SalesPortal through a `--config` with `server.publicDir` "
        "pointing at a copy of its own pages (`Public/`) with that page added, and by nginx from `bench/static`. The Flask portal's /healthz is one round "
        "under gunicorn with 2 sync workers.")
    add("- **Raw upload**: the file is first loaded with `sales-portal ingest` into a data folder (not timed), "
        "`sync` flushes the disk, a fresh server starts on that folder, and `curl -F file=@…` uploads the same file "
        f"({args.rounds} times for 1M rows, fewer for larger files). Each upload is answered `already_loaded`: the server has received the whole "
        "multipart body, spooled it to a file in the object store's folder while computing its SHA-256 and checking "
        "UTF-8, found the checksum already loaded for the region and removed the spool — so curl's total time is "
        "receive + parse + hash + write to disk, without loading rows. The remaining step of a first upload "
        "(adopting the spool file as the object, recording the upload) is `timings.store_ms`, in the details table. "
        "nginx's figure is the same body with `client_body_in_file_only clean` (the whole body written to a "
        "temporary file, then deleted) and a 204 answer from a location reached after the body is read "
        "(`proxy_pass` with `proxy_pass_request_body off`); nginx does not hash the body. `sync` runs before "
        "each measured load or spool so that writeback from the step before does not weigh on it.")
    add("- **Whole pipeline**: curl total time of the first upload of the file to a fresh server and database "
        "(receive, spool, hash, store, CSV reading, cleaning, de-duplication, SQLite insert with the unique row-key "
        "index and the invoice-day index, recording the result); rows/s = data rows in the file ÷ that time. "
        "The Flask portal (`bench/peers/flask_portal.py`: Flask, Werkzeug's multipart parsing, Python's `csv`, "
        "the same cleaning rules simplified, `sqlite3` executemany into the same table and indexes, WAL, "
        "synchronous=NORMAL) runs under gunicorn with 2 sync workers.")
    add("- **ingest**: `sales-portal ingest FILE --region UK --data-dir FRESH` wall time; CPU and peak RSS from wait4.")
    add(f"- **Idle connections**: `bench/idle_clients.py` opens {args.idle_connections:,} connections, makes one "
        "GET /healthz on each and holds them idle while wrk measures /healthz; `ulimit -n` is raised by run.sh.")
    add("- **SQLite ceiling**: `bench/sqlite_ceiling.c` inserts 1M pre-built rows with the same table, indexes, "
        "pragmas (WAL, synchronous=NORMAL, 16 KiB pages, 64 MiB cache), 250-row INSERT OR IGNORE statements and "
        "5000-row transactions, without any parsing.")
    add("- **Peak RSS**: VmHWM from /proc/PID/status read at the end of each scenario; servers are restarted "
        "between scenarios.")
    add("")
    if results["notes"]:
        add("## Notes from the run")
        add("")
        for note in results["notes"]:
            add(f"- {note}")
        add("")
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


# ---- the reports scenario (bench/reports.py): its own section, kept by either kind of run


def latest_reports(out_dir, kind="reports"):
    """The newest bench/out/KIND-YYYYMMDD-HHMMSS.json (reports, attacks), or None."""
    found = sorted(glob.glob(os.path.join(out_dir, f"{kind}-[0-9]*-[0-9]*.json")))
    if not found:
        return None
    with open(found[-1]) as handle:
        return json.load(handle)


def ms(seconds):
    if seconds is None:
        return "—"
    value = seconds * 1000
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def nearest_rank(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def reports_section(data):
    """The lines of the section "Reports on big warehouses", ending with a blank line."""
    lines = []
    add = lines.append
    add(REPORTS_HEADING)
    add("")
    minutes = sum(size.get("duration_s", 0) for size in data["sizes"]) / 60
    add(f"The `reports` scenario of `bench/run.sh` (`bench/reports.py`), {data['started']}, {minutes:.1f} minutes "
        f"for {', '.join(size['label'] for size in data['sizes'])} rows. SalesPortal answers over HTTP on 127.0.0.1 "
        "(its SQLite warehouse filled by `sales-portal ingest`); DuckDB "
        f"{data['sizes'][0].get('duckdb', {}).get('version', '')} answers the same questions in SQL over the same CSV "
        "file loaded into an in-memory table. Times in milliseconds.")
    add("")
    for size in data["sizes"]:
        rows = size["rows"]
        target = 0.100 if rows <= 5_000_000 else 0.200
        ingest = size.get("ingest", {})
        duck = size.get("duckdb", {})
        server = size.get("server", {})
        add(f"### {size['label']} rows")
        add("")
        add(f"File `{size['file']}` ({size['file_bytes'] / 1e6:,.0f} MB, {rows:,} rows, seed {size['seed']}): "
            f"{ingest.get('loaded', 0):,} loaded, {ingest.get('duplicates', 0):,} duplicates dropped, "
            f"{ingest.get('rejected', 0):,} rejected. {size['duration_s'] / 60:.1f} minutes; load average "
            f"{' / '.join(size['load_before'])} before, {' / '.join(size['load_after'])} after.")
        add("")
        for warning in size.get("warnings", []):
            add(f"**Warning:** {warning}")
            add("")
        add(f"| Question | SalesPortal cold p50 / p95 | warm p50 | DuckDB first / p50 | ratio | target | |")
        add("|---|---|---|---|---|---|---|")
        for question in size["questions"]:
            cold = [entry["seconds"] for entry in question["cold"] if entry["seconds"] is not None]
            failed = sum(1 for entry in question["cold"] if entry["seconds"] is None)
            cached = sum(1 for entry in question["cold"] if entry.get("hits"))
            # The server's own warming computed answers while this question was being answered.
            overlapped = sum(1 for entry in question["cold"] if (entry.get("computed") or 0) > 1)
            p50, p95 = nearest_rank(cold, 0.5), nearest_rank(cold, 0.95)
            extra = [f"{len(cold)} run{'s' if len(cold) != 1 else ''}"] + ([f"{failed} failed"] if failed else []) + \
                ([f"{cached} from the cache"] if cached else []) + \
                ([f"{overlapped} beside the server's warming"] if overlapped else [])
            warm = [value for value in question.get("warm", []) if value is not None]
            duck_times = question.get("duckdb", [])
            duck_first = duck_times[0] if duck_times else None
            duck_p50 = nearest_rank(duck_times, 0.5)
            ratio = (f"{p50 / duck_p50:,.1f}×" if p50 / duck_p50 < 10 else f"{p50 / duck_p50:,.0f}×") \
                if p50 and duck_p50 else "—"
            if question.get("duckdb_error"):
                ratio = "DuckDB failed"
            ok = None if p95 is None else (p95 <= target and not failed)
            add(f"| {question['label']} | {ms(p50)} / {ms(p95)} ({', '.join(extra)}) | {ms(nearest_rank(warm, 0.5))} "
                f"| {ms(duck_first)} / {ms(duck_p50)} | {ratio} | ≤ {target * 1000:.0f} ms p95 cold "
                f"| {'—' if ok is None else ('met' if ok else '**not met**')} |")
        random_ = size.get("random")
        if random_:
            ok = random_["p95"] is not None and random_["p95"] <= target and random_["answered"] == random_["asked"]
            failed = random_["asked"] - random_["answered"]
            add(f"| random combinations: {random_['asked']} distinct questions{f', {failed} failed' if failed else ''} "
                f"| {ms(random_['p50'])} / {ms(random_['p95'])} (max {ms(random_['max'])}) | | | | "
                f"≤ {target * 1000:.0f} ms p95 | {'met' if ok else '**not met**'} |")
        if ingest:
            duck_rate = duck.get("rows_per_s")
            duck_ingest = f"{duck_rate:,.0f} ({duck['load_seconds']:.1f} s)" if duck_rate else "—"
            ingest_ratio = f"{ingest['rows_per_s'] / duck_rate:.2f}×" if duck_rate else "—"
            add(f"| ingest, rows/s (file rows ÷ wall time) | {ingest['rows_per_s']:,.0f} ({ingest['seconds']:.1f} s, "
                f"{ingest['cpu_s']:.1f} CPU s) | | {duck_ingest} | {ingest_ratio} | | — |")
            server_peak = server.get("peak_rss_mib", 0)
            peak = max(server_peak, ingest["peak_rss_mib"])
            duck_peak = f"{duck['peak_rss_mib']:,.0f} (the whole DuckDB process)" if duck else "—"
            add(f"| peak RSS, MiB | server {server_peak:.1f} (VmHWM, every process of the scenario), "
                f"ingest {ingest['peak_rss_mib']:.1f} (ru_maxrss) | | {duck_peak} | | ≤ 64 MiB "
                f"| {'met' if peak <= 64 else '**not met**'} |")
        add("")
        if random_:
            parts = [f"{endpoint} {ms(found['p50'])} / {ms(found['p95'])} ({found['count']})"
                     for endpoint, found in random_["by_endpoint"].items() if found["count"]]
            add(f"- Random combinations by endpoint, p50 / p95 (count): {'; '.join(parts)}; "
                f"{random_['seconds_total']:.0f} s in all, {random_.get('hits') or 0} answered from the cache.")
        if server.get("start_seconds"):
            starts = server["start_seconds"]
            add(f"- Server start to listening: {ms(statistics.median(starts))} ms median over {len(starts)} starts; "
                f"busy on its own after start (report warming) for "
                f"{server['idle_after_start_s']:.1f} s, {server.get('computed_before_asked')} answers computed."
                if server.get("idle_after_start_s") is not None else
                f"- Server start to listening: {ms(statistics.median(starts))} ms median over {len(starts)} starts.")
        agreement = size.get("agreement")
        if agreement:
            add(f"- DuckDB's answers agree with SalesPortal's on {agreement['agree']} of "
                f"{agreement['agree'] + len(agreement['differ'])} questions (summary figures, series totals, "
                "breakdown groups, options, invoice page, invoice lines)"
                + (f"; they differ on {', '.join(agreement['differ'])}" if agreement["differ"] else "") + ".")
        if duck:
            add(f"- DuckDB: {duck.get('threads')} threads, {duck.get('rows', 0):,} rows after DISTINCT.")
        for note in size.get("notes", []):
            add(f"- {note}")
        add("")
    add("How it is measured:")
    add("")
    add("- **Cold**: each question is asked alone on a fresh `sales-portal serve` process (auth mode none, "
        "`server.queryTimeoutMs` raised to the client's timeout), once per round; the time is the wall clock of "
        "the request on a kept-alive `http.client` connection, opened before it. The operating system's file cache "
        f"is not dropped (the database file stays in memory). {data.get('settings_note', '')}. `/metrics` before and "
        "after each question says whether it was computed or answered from the cache. p95 is the nearest rank, so "
        "with 5 rounds it is the slowest.")
    add("- **Random combinations**: after a restart, once the server has been idle for a second (its report "
        "warming done), distinct questions (summary, time series by a random grain, breakdown by a random "
        "dimension, invoice pages) with random filters: region, a country from the options, a word of the "
        "generator's descriptions or a stock code of its catalogue, a date range inside the data's span; never "
        "without a filter other than region, so none is one the server warms by itself.")
    add("- **Warm**: the same server afterwards asks each fixed question once, then times it 5 more times "
        "(answers kept in the server's cache count: that is what a repeated question costs).")
    add("- **DuckDB**: a child process loads the file with `read_csv` into a table with `SELECT DISTINCT *` "
        "(the portal drops exact duplicate rows) and the same cleaning (codes trimmed and upper-case, blank "
        "customers NULL, 'C' invoices cancellations, the configured non-product codes), then runs each question "
        "5 times in SQL that follows the report definitions; the first run is shown apart. Its times are the "
        "query in process, without HTTP or JSON. Ratio = SalesPortal cold p50 ÷ DuckDB p50. Ingest ratio = "
        "SalesPortal rows/s ÷ DuckDB's.")
    add("")
    return lines


def write_reports_section(data, path):
    """Puts the reports section into RESULTS.md (see `write_section`)."""
    write_section(REPORTS_HEADING, reports_section(data), path)


def write_section(heading, section, path):
    """Puts `section` (lines, the first one `heading`) into RESULTS.md, keeping every other section
    as it is: in place of the old one, else before "## Method", else at the end."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line == heading), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        start = end = next((i for i, line in enumerate(lines) if line == "## Method"), len(lines))
    with open(path, "w") as handle:
        handle.write("\n".join(lines[:start] + list(section) + lines[end:]))
