"""Writes bench/RESULTS.md from the measurements gathered by bench.py."""
import statistics
import time


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

    add("## Method")
    add("")
    add(f"- **HTTP**: `wrk -t2 -c64 -d{args.wrk_seconds}s --latency`, keep-alive, {args.rounds} rounds alternating "
        "SalesPortal and nginx on the same scenario after a 1 s warm-up of each; nginx runs 2 worker processes, "
        "SalesPortal its defaults (2 event-loop threads). nginx answers /healthz with `return 200` and keeps "
        "connections for any number of requests (`keepalive_requests` raised from its default 1000), as SalesPortal "
        "does. Both write an access log to a file. The 4 KB page "
        "(`bench/static/page.html`) is served by SalesPortal through a `--config` with `server.publicDir` "
        "pointing at `bench/static`, and by nginx from the same folder. The Flask portal's /healthz is one round "
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
