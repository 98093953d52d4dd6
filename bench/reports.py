"""The `reports` scenario of bench/run.sh: how fast the report API answers on a big warehouse,
beside DuckDB answering the same questions from the same CSV file, in the same run.

For each size of BENCH_REPORT_ROWS ("5M=5000000 10M=10000000"):
1. a UK file from ../shared/tools/gen_online_retail.py (seed 21), kept in bench/out/;
2. `sales-portal ingest` into a fresh data folder: rows/s, CPU, peak RSS (wait4);
3. cold: each fixed question on a fresh `sales-portal serve` process, asked once, for
   BENCH_REPORT_COLD_ROUNDS rounds; /metrics says whether the answer came from the cache;
4. random: after a restart, once the server is idle, BENCH_REPORT_RANDOM distinct random
   filter combinations (at most BENCH_REPORT_RANDOM_SECONDS in all);
5. warm: each fixed question asked once more, then 5 times, on that server;
6. DuckDB (a child process, for its own peak RSS): the file loaded into an in-memory table
   (rows/s), then each fixed question 5 times, the first run reported apart.
Results go to bench/out/reports-<time>.json, and into RESULTS.md through report.py.

Servers listen on 127.0.0.1 only; every loop is bounded in count and time, every request by
a timeout (BENCH_REPORT_TIMEOUT, 120 s).
"""
import argparse
import calendar
import decimal
import http.client
import importlib.util
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CENT = decimal.Decimal("0.01")

# id, label, endpoint, query parameters. "invoice" is /api/report/invoices/{region}/{invoice}.
FIXED = [
    ("summary-all", "summary, all dates", "summary", {}),
    ("summary-country", "summary, country Germany", "summary", {"country": "Germany"}),
    ("summary-product", "summary, product HEART", "summary", {"product": "HEART"}),
    ("ts-day", "time series by day", "timeseries", {"grain": "day"}),
    ("ts-week-product", "time series by week, product VINTAGE", "timeseries", {"grain": "week", "product": "VINTAGE"}),
    ("ts-month-range", "time series by month, 2012", "timeseries",
     {"grain": "month", "from": "2012-01-01", "to": "2012-12-31"}),
    ("bd-country", "breakdown by country, top 10", "breakdown", {"by": "country", "limit": "10"}),
    ("bd-product", "breakdown by product, top 10", "breakdown", {"by": "product", "limit": "10"}),
    ("bd-region", "breakdown by region", "breakdown", {"by": "region", "limit": "10"}),
    ("options", "options", "options", {}),
    ("invoices", "invoices, first page (50)", "invoices", {"page": "1", "page_size": "50"}),
    ("invoices-filtered", "invoices, first page, RETROSPOT, 2012-01-01 to 06-30", "invoices",
     {"page": "1", "page_size": "50", "product": "RETROSPOT", "from": "2012-01-01", "to": "2012-06-30"}),
    ("invoice", "one invoice's lines", "invoice", {"region": "UK"}),
]


def log(message):
    print(f"[reports {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values, fraction):
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except OSError:
        return 0.0


def load_average():
    return open("/proc/loadavg").read().split()[:3]


def api_path(endpoint, params):
    if endpoint == "invoice":
        return (f"/api/report/invoices/{urllib.parse.quote(params['region'], safe='')}/"
                f"{urllib.parse.quote(params['invoice'], safe='')}")
    query = urllib.parse.urlencode(params)
    return f"/api/report/{endpoint}" + (f"?{query}" if query else "")


# ---------------------------------------------------------------- the portal


class Portal:
    """One `sales-portal serve` process on a free loopback port, with a keep-alive connection."""

    def __init__(self, binary, config, data, logfile, timeout):
        self.timeout = timeout
        self.log_path = logfile
        started = time.monotonic()
        with open(logfile, "w") as handle:
            self.process = subprocess.Popen(
                [binary, "serve", "--config", config, "--host", "127.0.0.1", "--port", "0", "--data-dir", data],
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + 60
        self.port = None
        while time.monotonic() < deadline:
            with open(logfile) as reader:
                match = re.search(r"listening on http://[\d.]+:(\d+)", reader.read())
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"sales-portal exited with {self.process.returncode}: see {logfile}")
            time.sleep(0.01)
        if self.port is None:
            self.stop()
            raise RuntimeError(f"sales-portal did not print its address within 60 s: see {logfile}")
        self.started = started
        self.start_seconds = time.monotonic() - started
        self.connection = None

    def connect(self):
        if self.connection is not None:
            self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def get(self, path):
        """(status or None, body or error text, seconds): wall clock of one request on the kept connection."""
        if self.connection is None:
            self.connect()
            self.connection.connect()
        began = time.perf_counter()
        try:
            self.connection.request("GET", path)
            response = self.connection.getresponse()
            body = response.read()
            seconds = time.perf_counter() - began
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = None
            return response.status, body, seconds
        except (OSError, http.client.HTTPException) as error:
            seconds = time.perf_counter() - began
            self.connection.close()
            self.connection = None
            return None, f"{type(error).__name__}: {error}", seconds

    def cache_counts(self):
        """(hits, misses) of the report cache from /metrics; None when not shown."""
        status, body, _ = self.get("/metrics")
        if status != 200:
            return None
        text = body.decode("utf-8", "replace")
        found = dict(re.findall(r'sales_portal_report_cache_requests_total\{result="(\w+)"\} ([\d.e+]+)', text))
        if "hit" not in found:
            return None
        return int(float(found["hit"])), int(float(found.get("miss", 0)))

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def peak_rss_mib(self):
        return status_kib(self.process.pid, "VmHWM") / 1024

    def wait_idle(self, min_seconds, max_seconds, window=1.0, quiet_cpu=0.05):
        """Seconds from start until the process used under `quiet_cpu` CPU seconds in a `window`
        (no earlier than `min_seconds` after start); None when it was still busy after `max_seconds`."""
        deadline = self.started + max_seconds
        while time.monotonic() < deadline:
            before = self.cpu()
            time.sleep(window)
            if time.monotonic() - self.started >= min_seconds and self.cpu() - before < quiet_cpu:
                return time.monotonic() - self.started
        return None

    def stop(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


# ---------------------------------------------------------------- answers, as compared


from reports_duckdb import duckdb_worker, money, portal_fingerprint  # noqa: E402


def wait_bounded(process, deadline, what, seconds):
    """Waits for `process` until `deadline` (time.monotonic); kills it past that. (status, rusage)."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise RuntimeError(f"{what} took longer than {seconds} s")
        time.sleep(0.02)


class ReportsBench:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.generator = importlib.util.module_from_spec(
            importlib.util.spec_from_file_location("gen_online_retail", args.generator))
        self.generator.__spec__.loader.exec_module(self.generator)
        with open(args.config_defaults) as handle:
            self.defaults = json.load(handle)
        self.settings, self.settings_note = self.report_settings()
        self.codes = None

    def report_settings(self):
        """Settings that warm or cache report answers, turned off: any key of Config/default.json
        whose path names warming, or a cache of reports; then BENCH_REPORT_SETTINGS (JSON) on top."""
        found = {}

        def walk(node, path):
            for key, value in node.items():
                dotted = ".".join(path + [key])
                if isinstance(value, dict):
                    walk(value, path + [key])
                    continue
                name = dotted.lower()
                if "warm" in name or ("report" in name and "cache" in name):
                    if isinstance(value, bool):
                        found[dotted] = False
                    elif isinstance(value, (int, float)):
                        found[dotted] = 0
        walk(self.defaults, [])
        tree = {}
        for dotted, value in found.items():
            node = tree
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        if self.args.settings:
            def merge(into, extra):
                for key, value in extra.items():
                    if isinstance(value, dict) and isinstance(into.get(key), dict):
                        merge(into[key], value)
                    else:
                        into[key] = value
            merge(tree, json.loads(self.args.settings))
        if found:
            note = "Report warming and caching turned off with " + ", ".join(f"`{k}={v}`" for k, v in found.items())
        else:
            note = ("The configuration has no setting to turn report warming or caching off: each cold question "
                    "is asked alone on a fresh process, and every random question is distinct")
        return tree, note

    def write_config(self, settings):
        config = {"server": {"accessLog": True, "queryTimeoutMs": int(self.args.timeout * 1000)}}
        for key, value in settings.items():
            if isinstance(value, dict):
                config.setdefault(key, {}).update(value)
            else:
                config[key] = value
        path = os.path.join(self.out, "reports-config.json")
        with open(path, "w") as handle:
            json.dump(config, handle, indent=1)
        return path

    # ---- files and ingest

    def data_file(self, label, rows):
        path = os.path.join(self.out, f"reports-UK-{label}.csv")
        marker = f"{rows} rows, seed {self.args.seed}"
        try:
            current = open(path + ".rows").read().strip()
        except OSError:
            current = ""
        if not (os.path.exists(path) and os.path.getsize(path) > 0 and current == marker):
            log(f"generating {path} ({rows:,} rows, seed {self.args.seed})")
            with open(path + ".tmp", "wb") as handle:
                subprocess.run([sys.executable, self.args.generator, "--rows", str(rows), "--region", "UK",
                                "--seed", str(self.args.seed)], stdout=handle, check=True, timeout=3600)
            os.replace(path + ".tmp", path)
            with open(path + ".rows", "w") as handle:
                handle.write(marker + "\n")
        return path

    def ingest(self, path, rows, data):
        shutil.rmtree(data, ignore_errors=True)
        os.sync()
        output = os.path.join(self.out, "reports-ingest.json")
        began = time.monotonic()
        with open(output, "wb") as stdout, open(output + ".log", "wb") as stderr:
            process = subprocess.Popen([self.args.binary, "ingest", path, "--region", "UK", "--data-dir", data],
                                       stdout=stdout, stderr=stderr)
        status, usage = wait_bounded(process, began + self.args.ingest_seconds, "ingest", self.args.ingest_seconds)
        seconds = time.monotonic() - began
        if status != 0:
            raise RuntimeError(f"ingest failed with status {status}: see {output}.log")
        answer = json.load(open(output))["uploads"][0]
        os.sync()
        cpu = usage.ru_utime + usage.ru_stime
        return {"seconds": seconds, "rows_per_s": rows / seconds, "cpu_s": cpu, "peak_rss_mib": usage.ru_maxrss / 1024,
                "status": answer.get("status"), "read": answer["rows"]["read"], "loaded": answer["rows"]["loaded"],
                "rejected": answer["rows"]["rejected"], "duplicates": answer["rows"]["duplicates"],
                "revenue": answer.get("revenue")}

    # ---- the portal's phases

    def start(self, label, tag):
        portal = Portal(self.args.binary, self.config, self.data,
                        os.path.join(self.out, f"reports-serve-{label}-{tag}.log"), self.args.timeout)
        self.server["start_seconds"].append(portal.start_seconds)
        return portal

    def finish(self, portal):
        self.server["peak_rss_mib"] = max(self.server["peak_rss_mib"], portal.peak_rss_mib())
        portal.stop()

    def cold(self, label, result):
        questions = result["questions"]
        deadline = time.monotonic() + self.args.cold_seconds
        for round_index in range(self.args.cold_rounds):
            if time.monotonic() > deadline:
                result["notes"].append(f"cold: stopped after {round_index} rounds, past {self.args.cold_seconds} s")
                break
            log(f"{label} cold round {round_index + 1}/{self.args.cold_rounds}: each question on a fresh process")
            for question in questions:
                params = dict(question["params"])
                if question["endpoint"] == "invoice":
                    params["invoice"] = self.invoice_no
                portal = self.start(label, "cold")
                try:
                    before = portal.cache_counts()  # opens the kept connection too
                    status, body, seconds = portal.get(api_path(question["endpoint"], params))
                    after = portal.cache_counts()
                finally:
                    self.finish(portal)
                entry = {"seconds": seconds if status == 200 else None, "status": status}
                if before and after:
                    entry["hits"] = after[0] - before[0]
                    entry["computed"] = after[1] - before[1]
                if status != 200:
                    entry["error"] = body[:300].decode("utf-8", "replace") if isinstance(body, bytes) else body
                question["cold"].append(entry)
                shown = f"{seconds * 1000:,.1f} ms" if status == 200 else f"failed ({status}: {entry['error'][:80]})"
                log(f"  {question['id']}: {shown}")
                if status == 200 and question["fingerprint"] is None:
                    answer = json.loads(body)
                    question["fingerprint"] = portal_fingerprint(question["endpoint"], answer)
                    if question["id"] == "invoices" and answer["invoices"]:
                        self.invoice_no = answer["invoices"][0]["invoice_no"]

    def random_question(self, rng, options, seen):
        words = self.generator.WORDS
        if self.codes is None:  # the stock codes of the file: the generator's catalogue for its seed
            self.codes = [code for code, _, _ in self.generator.catalog(random.Random(self.args.seed))]
        codes = self.codes
        first_day = calendar.timegm(time.strptime(options["first_date"], "%Y-%m-%d")) // 86400
        span = max(0, calendar.timegm(time.strptime(options["last_date"], "%Y-%m-%d")) // 86400 - first_day)

        def day(offset):
            return time.strftime("%Y-%m-%d", time.gmtime((first_day + offset) * 86400 + 43200))

        for _ in range(1000):
            params = {}
            if rng.random() < 0.5:
                params["region"] = rng.choice(options["regions"] or ["UK"])
            if rng.random() < 0.4 and options["countries"]:
                params["country"] = rng.choice(options["countries"])
            if rng.random() < 0.6:
                params["product"] = rng.choice(words) if rng.random() < 0.7 else rng.choice(codes)
            if rng.random() < 0.6:
                low = rng.randint(0, span)
                high = rng.randint(low, span)
                shape = rng.random()
                if shape < 0.7:
                    params["from"], params["to"] = day(low), day(high)
                elif shape < 0.85:
                    params["from"] = day(low)
                else:
                    params["to"] = day(high)
            # Never only a region or nothing: those are the questions the server warms on its own.
            if not any(key in params for key in ("country", "product", "from", "to")):
                continue
            pick = rng.random()
            if pick < 0.25:
                endpoint = "summary"
            elif pick < 0.5:
                endpoint = "timeseries"
                params["grain"] = rng.choice(["day", "week", "month"])
            elif pick < 0.75:
                endpoint = "breakdown"
                params["by"] = rng.choice(["region", "country", "product"])
                params["limit"] = str(rng.choice([5, 10, 10, 20]))
            else:
                endpoint = "invoices"
                params["page"] = str(rng.choice([1, 1, 1, 2, 3]))
                params["page_size"] = str(rng.choice([25, 50]))
            # The same question as the server's cache names it: region upper-case, the rest as given.
            key = (endpoint, tuple(sorted((k, v.upper() if k == "region" else v) for k, v in params.items())))
            if key not in seen:
                seen.add(key)
                return endpoint, params
        return None

    def random_and_warm(self, label, result):
        portal = self.start(label, "random")
        try:
            idle = portal.wait_idle(self.args.idle_min_seconds, self.args.idle_max_seconds)
            counts = portal.cache_counts()
            self.server["idle_after_start_s"] = idle
            self.server["computed_before_asked"] = counts[1] if counts else None
            if idle is None:
                result["notes"].append(f"random: the server was still busy {self.args.idle_max_seconds} s after start")
            status, body, _ = portal.get("/api/report/options")
            if status != 200:
                raise RuntimeError(f"options answered {status}: {body[:200]!r}")
            options = json.loads(body)
            rng = random.Random(f"{self.args.seed}-{label}")
            seen = set()
            asked = []
            before = portal.cache_counts()
            began = time.monotonic()
            log(f"{label} random: up to {self.args.random} distinct questions, at most {self.args.random_seconds} s "
                f"(the server was idle {idle or 0:.1f} s after start)")
            while len(asked) < self.args.random and time.monotonic() - began < self.args.random_seconds:
                picked = self.random_question(rng, options, seen)
                if picked is None:
                    break
                endpoint, params = picked
                status, body, seconds = portal.get(api_path(endpoint, params))
                asked.append({"endpoint": endpoint, "params": params, "status": status,
                              "seconds": seconds if status == 200 else None})
                if len(asked) % 25 == 0:
                    log(f"  {len(asked)} asked, {time.monotonic() - began:.0f} s")
            after = portal.cache_counts()
            times = [entry["seconds"] for entry in asked if entry["seconds"] is not None]
            result["random"] = {
                "asked": len(asked), "answered": len(times), "seconds_total": time.monotonic() - began,
                "p50": percentile(times, 0.5), "p95": percentile(times, 0.95), "max": max(times) if times else None,
                "hits": after[0] - before[0] if before and after else None,
                "computed": after[1] - before[1] if before and after else None,
                "by_endpoint": {
                    endpoint: {"count": len(found), "p50": percentile(found, 0.5), "p95": percentile(found, 0.95)}
                    for endpoint in ("summary", "timeseries", "breakdown", "invoices")
                    for found in [[e["seconds"] for e in asked if e["endpoint"] == endpoint and e["seconds"] is not None]]},
                "failures": [entry for entry in asked if entry["status"] != 200][:20],
                "questions": asked,
            }
            if len(asked) < self.args.random:
                result["notes"].append(f"random: {len(asked)} of {self.args.random} asked within "
                                       f"{self.args.random_seconds} s")
            log(f"{label} warm: each fixed question once, then {self.args.warm_repeats} times")
            for question in result["questions"]:
                params = dict(question["params"])
                if question["endpoint"] == "invoice":
                    params["invoice"] = self.invoice_no
                path = api_path(question["endpoint"], params)
                portal.get(path)
                for _ in range(self.args.warm_repeats):
                    status, _, seconds = portal.get(path)
                    question["warm"].append(seconds if status == 200 else None)
        finally:
            self.finish(portal)

    def duckdb(self, label, path, result):
        spec = {"csv": path, "region": "UK", "runs": self.args.duckdb_runs, "question_seconds": self.args.timeout,
                "non_product_codes": self.defaults["etl"]["nonProductStockCodes"],
                "non_product_prefixes": self.defaults["etl"]["nonProductStockCodePrefixes"],
                "questions": [{"id": q["id"], "endpoint": q["endpoint"],
                               "params": dict(q["params"], **({"invoice": self.invoice_no}
                                                              if q["endpoint"] == "invoice" else {}))}
                              for q in result["questions"]]}
        spec_path = os.path.join(self.out, f"reports-duckdb-{label}.spec.json")
        output = os.path.join(self.out, f"reports-duckdb-{label}.json")
        with open(spec_path, "w") as handle:
            json.dump(spec, handle)
        log(f"{label} DuckDB: load the file, then each question {self.args.duckdb_runs} times")
        began = time.monotonic()
        with open(output, "w") as stdout, open(output + ".log", "w") as stderr:
            process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "duckdb-worker", spec_path],
                                       stdout=stdout, stderr=stderr)
        status, usage = wait_bounded(process, began + self.args.duckdb_seconds, "DuckDB", self.args.duckdb_seconds)
        if status != 0:
            raise RuntimeError(f"DuckDB failed with status {status}: {open(output + '.log').read()[-500:]}")
        answer = json.load(open(output))
        rows = result["rows"]
        result["duckdb"] = {"version": answer["version"], "threads": answer["threads"],
                            "load_seconds": answer["load_seconds"], "rows": answer["rows"],
                            "rows_per_s": rows / answer["load_seconds"], "peak_rss_mib": usage.ru_maxrss / 1024,
                            "wall_s": time.monotonic() - began}
        for question in result["questions"]:
            found = answer["answers"].get(question["id"], {})
            question["duckdb"] = found.get("times", [])
            question["duckdb_error"] = found.get("error")
            question["duckdb_fingerprint"] = found.get("fingerprint")

    def compare(self, result):
        ingest = result["ingest"]
        if ingest["rejected"]:
            result["notes"].append(f"the portal rejected {ingest['rejected']} rows; DuckDB rejects none, so the "
                                   "numbers may differ by those rows")
        duck_rows = result.get("duckdb", {}).get("rows")
        if duck_rows is not None and duck_rows != ingest["loaded"]:
            result["warnings"].append(f"DuckDB kept {duck_rows:,} distinct rows, the portal loaded {ingest['loaded']:,}")
        agree, differ = 0, []
        for question in result["questions"]:
            ours, theirs = question["fingerprint"], question.get("duckdb_fingerprint")
            if ours is None or theirs is None:
                continue
            if ours == theirs:
                agree += 1
            else:
                differ.append(question["id"])
                if question["id"] == "summary-all":
                    result["warnings"].append(f"summary, all dates: SalesPortal {json.dumps(ours)}, "
                                              f"DuckDB {json.dumps(theirs)}")
                else:
                    result["notes"].append(f"{question['id']}: answers differ: SalesPortal "
                                           f"{json.dumps(ours)[:300]}, DuckDB {json.dumps(theirs)[:300]}")
        result["agreement"] = {"agree": agree, "differ": differ}

    def run_size(self, label, rows):
        began = time.monotonic()
        result = {"label": label, "rows": rows, "seed": self.args.seed, "notes": [], "warnings": [],
                  "load_before": load_average(),
                  "questions": [{"id": qid, "label": text, "endpoint": endpoint, "params": params, "cold": [],
                                 "warm": [], "fingerprint": None} for qid, text, endpoint, params in FIXED]}
        path = self.data_file(label, rows)
        result["file"], result["file_bytes"] = os.path.basename(path), os.path.getsize(path)
        self.invoice_no = None
        with open(path, "rb") as handle:  # the file's last invoice: the first page's first, unless it says otherwise
            handle.seek(max(0, os.path.getsize(path) - 4096))
            self.invoice_no = handle.read().decode("utf-8", "replace").strip().splitlines()[-1].split(",", 1)[0]
        self.data = os.path.join(self.out, "data", f"reports-{label}")
        log(f"{label}: sales-portal ingest")
        result["ingest"] = self.ingest(path, rows, self.data)
        log(f"{label}: ingest {result['ingest']['rows_per_s']:,.0f} rows/s, {result['ingest']['loaded']:,} loaded, "
            f"peak {result['ingest']['peak_rss_mib']:.1f} MiB")
        self.server = {"start_seconds": [], "peak_rss_mib": 0.0}
        result["server"] = self.server
        try:
            self.cold(label, result)
            self.random_and_warm(label, result)
        except Exception as error:  # keep going: a broken phase is reported, not fatal
            log(f"{label}: the portal's phases failed: {error}")
            result["warnings"].append(f"the portal's phases failed: {error}")
        finally:
            shutil.rmtree(self.data, ignore_errors=True)
        try:
            self.duckdb(label, path, result)
        except Exception as error:
            log(f"{label}: DuckDB failed: {error}")
            result["warnings"].append(f"DuckDB failed: {error}")
        self.compare(result)
        result["invoice_no"] = self.invoice_no
        result["load_after"] = load_average()
        result["duration_s"] = time.monotonic() - began
        return result

    def run(self):
        began = time.monotonic()
        report = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": [],
                  "settings": self.settings, "settings_note": self.settings_note,
                  "args": {key: value for key, value in vars(self.args).items() if key != "command"},
                  "machine": {"nproc": os.cpu_count(), "load_before": load_average()}}
        try:
            self.config = self.write_config(self.settings)
            probe = subprocess.run([self.args.binary, "routes", "--config", self.config], capture_output=True,
                                   text=True, timeout=60)
            if probe.returncode != 0 and self.settings:
                report["settings_note"] = (f"the binary refused the settings {json.dumps(self.settings)} "
                                           f"({probe.stderr.strip()[:200]}); run without them")
                self.config = self.write_config({})
        except subprocess.TimeoutExpired:
            pass
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        output = os.path.join(self.out, f"reports-{stamp}.json")
        for spec in self.args.sizes.split():
            label, rows = spec.split("=", 1)
            report["sizes"].append(self.run_size(label, int(rows)))
            report["duration_s"] = time.monotonic() - began
            report["machine"]["load_after"] = load_average()
            with open(output, "w") as handle:
                json.dump(report, handle, indent=1)
        log(f"done in {report.get('duration_s', 0):.0f} s: {output}")
        return output, report


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "duckdb-worker":
        duckdb_worker(sys.argv[2])
        return
    env = os.environ.get
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--results", help="RESULTS.md: its reports section is written (the rest is kept)")
    parser.add_argument("--generator", default=os.path.join(ROOT, "..", "shared", "tools", "gen_online_retail.py"))
    parser.add_argument("--config-defaults", default=os.path.join(ROOT, "Config", "default.json"))
    parser.add_argument("--sizes", default=env("BENCH_REPORT_ROWS", "5M=5000000 10M=10000000"))
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--cold-rounds", type=int, default=int(env("BENCH_REPORT_COLD_ROUNDS", "5")))
    parser.add_argument("--cold-seconds", type=float, default=float(env("BENCH_REPORT_COLD_SECONDS", "2400")))
    parser.add_argument("--random", type=int, default=int(env("BENCH_REPORT_RANDOM", "200")))
    parser.add_argument("--random-seconds", type=float, default=float(env("BENCH_REPORT_RANDOM_SECONDS", "600")))
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--duckdb-runs", type=int, default=5)
    parser.add_argument("--duckdb-seconds", type=float, default=1800)
    parser.add_argument("--ingest-seconds", type=float, default=1800)
    parser.add_argument("--idle-min-seconds", type=float, default=6.0,
                        help="the server's report warming looks at the rows every 2 s and starts after two looks")
    parser.add_argument("--idle-max-seconds", type=float, default=900)
    parser.add_argument("--timeout", type=float, default=float(env("BENCH_REPORT_TIMEOUT", "120")),
                        help="seconds one request may take (and the server's queryTimeoutMs)")
    parser.add_argument("--settings", default=env("BENCH_REPORT_SETTINGS", ""),
                        help="JSON settings added to the server's configuration")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    output, report = ReportsBench(args).run()
    if args.results:
        sys.path.insert(0, HERE)
        from report import write_reports_section
        write_reports_section(report, args.results)
        log(f"reports section written into {args.results}")


if __name__ == "__main__":
    main()
