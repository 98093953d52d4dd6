#!/usr/bin/env python3
"""A BigQuery stand-in that sits in front of the local BigQuery emulator and refuses what
real BigQuery refuses but the emulator accepts.

    python3 scripts/bq_standin.py --listen 127.0.0.1:9050 --upstream http://127.0.0.1:9051

Every request is forwarded to the emulator (method, path, query, headers, body) and its
answer is sent back (status, headers, body), with these differences:

- Streaming inserts (tabledata.insertAll) into a table partitioned on a DATE, DATETIME or
  TIMESTAMP column (`timePartitioning.field`) refuse rows whose partition value lies
  outside [today - 5 years, today + 1 year] (UTC dates), as BigQuery does: such a row is
  reported in `insertErrors` with reason `invalid`. With `skipInvalidRows` true the other
  rows are forwarded and the emulator's `insertErrors` are mapped back to the request's
  indexes; with it false nothing is inserted and the other rows are reported `stopped`.
  Ingestion-time (`timePartitioning` without a field) and integer-range partitioning
  (`rangePartitioning`) have no such window.
- The layout of each table created through tables.insert (`timePartitioning`,
  `rangePartitioning`, `clustering`) is remembered and added to tables.get and tables.list
  answers where the emulator leaves it out (it drops `rangePartitioning`, and lists tables
  without any layout). tables.delete, datasets.delete with contents, and DROP / CREATE OR
  REPLACE TABLE statements forget it; CREATE TABLE ... PARTITION BY RANGE_BUCKET(col,
  GENERATE_ARRAY(a, b, c)) [CLUSTER BY ...] statements are remembered the same way.
  Tables the stand-in did not see being created are looked up from the emulator as they
  are (the emulator keeps `timePartitioning`).
- A row whose insertId was already accepted for the same table in the last minute
  (--dedupe-seconds) is dropped without a word, as BigQuery's best-effort deduplication
  does: it is answered as inserted but never reaches the emulator.
- GET /standin/stats answers what passed through as JSON (rows accepted and refused per
  table); DELETE /standin/stats sets the counts back to zero.
- Slow queries, for tests of time budgets: PUT /standin/slow-queries {"match": REGEX,
  "seconds": S} makes every jobs.query whose SQL matches REGEX run S seconds, as BigQuery
  answers a job still running: `jobComplete: false` and a job reference after the call's
  `timeoutMs`, the same from getQueryResults until S seconds have passed (then the emulator's
  answer). jobs.cancel of such a job is answered as BigQuery does and remembered; GET
  /standin/slow-queries lists the cancelled jobs; DELETE forgets the rules and the jobs.

Standard library only. Loopback addresses only. One line per refused batch on stderr.
Exits 0 on SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http
import http.client
import http.server
import ipaddress
import json
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import zlib

LAYOUT_KEYS = ("timePartitioning", "rangePartitioning", "clustering")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "content-length"}
PAST_YEARS, FUTURE_YEARS = 5, 1
PAST_DAYS, FUTURE_DAYS = 1825, 366   # as BigQuery words the window in its message
LOOKUP_TTL_SECONDS = 2.0

API = r"/bigquery/v2/projects/(?P<p>[^/]+)"
ROUTES = [
    ("insert_all", "POST", re.compile(API + r"/datasets/(?P<d>[^/]+)/tables/(?P<t>[^/]+)/insertAll/?$")),
    ("table", None, re.compile(API + r"/datasets/(?P<d>[^/]+)/tables/(?P<t>[^/]+)/?$")),
    ("tables", None, re.compile(API + r"/datasets/(?P<d>[^/]+)/tables/?$")),
    ("dataset", "DELETE", re.compile(API + r"/datasets/(?P<d>[^/]+)/?$")),
    ("query", "POST", re.compile(API + r"/(?:queries|jobs)/?$")),
    ("query_results", "GET", re.compile(API + r"/queries/(?P<j>[^/]+)/?$")),
    ("cancel", "POST", re.compile(API + r"/jobs/(?P<j>[^/]+)/cancel/?$")),
]


def log(message: str) -> None:
    sys.stderr.write(f"bq_standin: {message}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------------
# Dates


def years_from(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later (earlier when negative); 29 Feb becomes 28 Feb."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    return years_from(today, -PAST_YEARS), years_from(today, FUTURE_YEARS)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})")
_TIME_REST = re.compile(
    r"^(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*"
    r"(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*$")


def partition_instant(value, column_type: str | None):
    """(UTC date, microseconds since the epoch) of a partition column's JSON value, or None
    when it is not a value this stand-in understands (the emulator then judges the row)."""
    column_type = (column_type or "").upper()
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.match(value)):
            if column_type not in ("TIMESTAMP", ""):
                return None
            moment = EPOCH + dt.timedelta(seconds=float(value))   # BigQuery: seconds since the epoch
        elif isinstance(value, str):
            head = _DATE.match(value)
            if not head:
                return None
            rest = _TIME_REST.match(value[head.end():])
            if not rest:
                return None
            year, month, day = (int(x) for x in head.groups())
            hour, minute, second, fraction, zone = rest.groups()
            if column_type == "DATE" and hour is not None:
                return None
            micros = int((fraction or "0")[:6].ljust(6, "0"))
            moment = dt.datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0), micros,
                                 tzinfo=dt.timezone.utc)
            if zone and zone.upper() not in ("Z", "UTC"):
                if column_type in ("DATE", "DATETIME"):
                    return None
                sign = -1 if zone.startswith("-") else 1
                digits = zone[1:].replace(":", "")
                offset = dt.timedelta(hours=int(digits[:-2] or 0) if len(digits) > 2 else int(digits),
                                      minutes=int(digits[-2:]) if len(digits) > 2 else 0)
                moment -= sign * offset
        else:
            return None
        delta = moment - EPOCH
        return moment.date(), delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------------------------------
# What the stand-in knows about tables, and what passed through


class Layouts:
    """Layouts (and schemas) of tables, keyed by (project, dataset, table)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str, str], dict] = {}
        self._looked_up: dict[tuple[str, str, str], tuple[float, dict | None]] = {}

    def remember(self, key, resource: dict) -> None:
        entry = {k: resource[k] for k in LAYOUT_KEYS if isinstance(resource.get(k), dict)}
        fields = (resource.get("schema") or {}).get("fields") if isinstance(resource.get("schema"), dict) else None
        entry["schema"] = fields if isinstance(fields, list) else None
        with self._lock:
            self._known[key] = entry
            self._looked_up.clear()

    def update(self, key, resource: dict) -> None:
        with self._lock:
            entry = self._known.get(key)
            if entry is not None:
                for k in LAYOUT_KEYS:
                    if isinstance(resource.get(k), dict):
                        entry[k] = resource[k]
                if isinstance(resource.get("schema"), dict) and isinstance(resource["schema"].get("fields"), list):
                    entry["schema"] = resource["schema"]["fields"]
            self._looked_up.clear()

    def forget(self, key) -> None:
        with self._lock:
            self._known.pop(key, None)
            self._looked_up.clear()

    def forget_dataset(self, project: str, dataset: str) -> None:
        with self._lock:
            for key in [k for k in self._known if k[:2] == (project, dataset)]:
                del self._known[key]
            self._looked_up.clear()

    def changed(self) -> None:
        """Something may have changed tables behind the stand-in's back (a query or job)."""
        with self._lock:
            self._looked_up.clear()

    def known(self, key) -> dict | None:
        with self._lock:
            entry = self._known.get(key)
            return dict(entry) if entry is not None else None

    def cached_lookup(self, key):
        with self._lock:
            hit = self._looked_up.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
            return False, None

    def store_lookup(self, key, entry: dict | None) -> None:
        with self._lock:
            self._looked_up[key] = (time.monotonic() + LOOKUP_TTL_SECONDS, entry)

    def fill(self, key, resource: dict) -> bool:
        """Adds the remembered layout keys the answer lacks; True when something was added."""
        entry = self.known(key)
        if not entry:
            return False
        added = False
        for k in LAYOUT_KEYS:
            if k in entry and k not in resource:
                resource[k] = entry[k]
                added = True
        return added


class Stats:
    COUNTERS = ("requests", "rows", "accepted", "refused", "stopped", "failed", "deduplicated")

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.forwarded = 0
        self.refused_batches = 0
        self.tables: dict[str, dict[str, int]] = {}

    def clear(self) -> None:
        with self._lock:
            self.reset()

    def request(self) -> None:
        with self._lock:
            self.forwarded += 1

    def insert(self, table: str, **counts: int) -> None:
        with self._lock:
            entry = self.tables.setdefault(table, dict.fromkeys(self.COUNTERS, 0))
            entry["requests"] += 1
            for name, count in counts.items():
                entry[name] += count
            if counts.get("refused"):
                self.refused_batches += 1

    def snapshot(self) -> dict:
        with self._lock:
            totals = dict.fromkeys(self.COUNTERS, 0)
            for entry in self.tables.values():
                for name in self.COUNTERS:
                    totals[name] += entry[name]
            return {"tables": {name: dict(entry) for name, entry in sorted(self.tables.items())},
                    "totals": totals, "refused_batches": self.refused_batches,
                    "requests_forwarded": self.forwarded, "since": round(self.started, 3)}


# ---------------------------------------------------------------------------------------
# The proxy


class Answer:
    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self):
        """The body as JSON (gunzipped when it came compressed), or None."""
        try:
            return json.loads(decoded(self.body, self.header("Content-Encoding")))
        except (ValueError, OSError, zlib.error, EOFError):
            return None

    def with_json(self, value) -> "Answer":
        body = json.dumps(value, separators=(",", ":")).encode()
        headers = [(k, v) for k, v in self.headers if k.lower() not in ("content-encoding", "content-length", "etag")]
        return Answer(self.status, self.reason, headers, body)


def decoded(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if encoding in ("identity", ""):
        return body
    raise ValueError(f"unknown content encoding {encoding}")


def json_answer(status: int, value) -> Answer:
    reason = next((s.phrase for s in http.HTTPStatus if s.value == status), "")
    return Answer(status, reason, [("Content-Type", "application/json; charset=UTF-8")],
                  json.dumps(value, separators=(",", ":")).encode())


def error_answer(status: int, reason: str, message: str) -> Answer:
    return json_answer(status, {"error": {"code": status, "message": message,
                                          "errors": [{"domain": "global", "reason": reason, "message": message}]}})


class StandIn(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, upstream: str, today: dt.date | None, timeout: float,
                 insert_delay: float = 0.0, absorb_inserts: bool = False, check_every: int = 1,
                 dedupe_seconds: float = 60.0):
        parsed = urllib.parse.urlsplit(upstream if "://" in upstream else "http://" + upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise SystemExit(f"bq_standin: --upstream must be http://HOST:PORT, not {upstream!r}")
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port or 80
        self.fixed_today = today
        self.upstream_timeout = timeout
        # For benchmarks: insertAll answered after a delay (a WAN round trip plus BigQuery's own
        # time) and, with absorb_inserts, checked and counted here without reaching the emulator.
        self.insert_delay = insert_delay
        self.absorb_inserts = absorb_inserts
        # Absorbed requests are checked row by row one in `check_every` (Python's JSON parser is
        # slower than the portal's encoder); the others have their rows counted.
        self.check_every = max(1, check_every)
        self.absorbed = 0
        self.absorbed_lock = threading.Lock()
        self.layouts = Layouts()
        self.stats = Stats()
        # Slow queries: rules (compiled SQL pattern, seconds), running jobs by id, cancelled ids.
        self.slow_lock = threading.Lock()
        self.slow_rules: list[tuple[re.Pattern, float]] = []
        self.slow_jobs: dict[str, dict] = {}
        self.cancelled_jobs: list[str] = []
        # insertIds accepted per table and when: BigQuery drops a row whose insertId it saw
        # for the table within about a minute.
        self.dedupe_seconds = dedupe_seconds
        self.seen_ids: dict[tuple, dict[str, float]] = {}
        self.seen_lock = threading.Lock()
        super().__init__(address, Handler)

    def already_seen(self, table: tuple, rows: list, skip: set[int]) -> set[int]:
        """Indexes of rows whose insertId the table accepted within the window (or earlier in this request)."""
        now = time.monotonic()
        seen_here: set[str] = set()
        dropped = set()
        with self.seen_lock:
            seen = self.seen_ids.setdefault(table, {})
            for stale in [k for k, at in seen.items() if now - at > self.dedupe_seconds]:
                del seen[stale]
            for index, row in enumerate(rows):
                insert_id = row.get("insertId") if isinstance(row, dict) else None
                if index in skip or not isinstance(insert_id, str) or not insert_id:
                    continue
                if insert_id in seen or insert_id in seen_here:
                    dropped.add(index)
                seen_here.add(insert_id)
        return dropped

    def accepted(self, table: tuple, rows: list, indexes) -> None:
        now = time.monotonic()
        with self.seen_lock:
            seen = self.seen_ids.setdefault(table, {})
            for index in indexes:
                insert_id = rows[index].get("insertId") if isinstance(rows[index], dict) else None
                if isinstance(insert_id, str) and insert_id:
                    seen[insert_id] = now

    def checks_next_absorbed(self) -> bool:
        with self.absorbed_lock:
            self.absorbed += 1
            return self.absorbed % self.check_every == 1 or self.check_every == 1

    def today(self) -> dt.date:
        return self.fixed_today or dt.datetime.now(dt.timezone.utc).date()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bq-standin"
    sys_version = ""
    timeout = 600          # idle keep-alive connections and slow bodies
    server: StandIn

    # -- plumbing ---------------------------------------------------------------------

    def log_message(self, format, *args):   # no access log; refused batches are logged
        pass

    def setup(self):
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                                        timeout=self.server.upstream_timeout)
            return self._upstream, False
        return self._upstream, True

    def upstream(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> Answer:
        """Sends one request to the emulator over this connection's keep-alive link; a link the
        emulator closed while idle is opened again once."""
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                has_host = False
                for name, value in headers:
                    has_host |= name.lower() == "host"
                    conn.putheader(name, value)
                if not has_host:
                    conn.putheader("Host", f"{self.server.upstream_host}:{self.server.upstream_port}")
                if body is not None and (body or method not in ("GET", "HEAD", "DELETE", "OPTIONS")):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                response = conn.getresponse()
                data = b"" if method == "HEAD" else response.read()
                answer = Answer(response.status, response.reason, response.getheaders(), data)
                if response.will_close:
                    conn.close()
                    self._upstream = None
                return answer
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                conn.close()
                self._upstream = None
                if attempt == 1 and reused:
                    continue
                return error_answer(502, "backendError", f"the BigQuery emulator closed the connection: {error}")
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                self._upstream = None
                return error_answer(502, "backendError",
                                    f"the BigQuery emulator at {self.server.upstream_host}:{self.server.upstream_port} "
                                    f"did not answer: {error}")
        raise AssertionError("unreachable")

    def read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("the client closed the connection inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass   # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = self.headers.get("Content-Length")
        if length is not None:
            count = int(length)
            data = self.rfile.read(count) if count > 0 else b""
            if len(data) != count:
                raise ConnectionError("the client closed the connection inside the body")
            return data
        return None

    def forwarded_headers(self, drop: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        connection_tokens = {t.strip().lower() for t in (self.headers.get("Connection") or "").split(",")}
        return [(name, value) for name, value in self.headers.items()
                if name.lower() not in HOP_BY_HOP and name.lower() not in connection_tokens
                and name.lower() not in drop]

    def send(self, answer: Answer, head_only: bool = False) -> None:
        self.send_response_only(answer.status, answer.reason or None)
        for name, value in answer.headers:
            if name.lower() in HOP_BY_HOP or name.lower() in ("date", "server"):
                continue
            self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        bodiless = answer.status in (204, 304) or answer.status < 200
        if head_only:
            length = answer.header("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        elif not bodiless:
            self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not (head_only or bodiless) and answer.body:
            self.wfile.write(answer.body)
        self.wfile.flush()

    # -- requests ---------------------------------------------------------------------

    def do_GET(self): self.handle_any()
    def do_HEAD(self): self.handle_any()
    def do_POST(self): self.handle_any()
    def do_PUT(self): self.handle_any()
    def do_PATCH(self): self.handle_any()
    def do_DELETE(self): self.handle_any()
    def do_OPTIONS(self): self.handle_any()

    def handle_any(self) -> None:
        try:
            body = self.read_body()
        except (ValueError, ConnectionError) as error:
            self.close_connection = True
            self.send(error_answer(400, "invalid", f"unreadable request body: {error}"))
            return
        path = urllib.parse.urlsplit(self.path).path
        if path.rstrip("/") == "/standin/stats":
            self.stats_endpoint()
            return
        if path.rstrip("/") == "/standin/slow-queries":
            self.slow_queries_endpoint(body)
            return
        route, params = None, {}
        for name, method, pattern in ROUTES:
            match = pattern.match(path)
            if match and (method is None or method == self.command):
                route, params = name, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                break
        handler = getattr(self, f"route_{route}", None) if route else None
        answer = handler(params, body) if handler else None
        if answer is None:
            answer = self.forward(body)
        self.send(answer, head_only=self.command == "HEAD")

    def forward(self, body: bytes | None, headers: list[tuple[str, str]] | None = None) -> Answer:
        self.server.stats.request()
        return self.upstream(self.command, self.path, self.forwarded_headers() if headers is None else headers, body)

    def stats_endpoint(self) -> None:
        if self.command == "DELETE":
            self.server.stats.clear()
        elif self.command not in ("GET", "HEAD"):
            self.send(error_answer(405, "invalid", "GET or DELETE /standin/stats"))
            return
        snapshot = self.server.stats.snapshot()
        snapshot["today"] = self.server.today().isoformat()
        self.send(json_answer(200, snapshot), head_only=self.command == "HEAD")

    def slow_queries_endpoint(self, body: bytes | None) -> None:
        server = self.server
        if self.command == "PUT":
            try:
                rule = json.loads(body or b"{}")
                pattern, seconds = re.compile(rule["match"]), float(rule["seconds"])
            except (ValueError, KeyError, TypeError, re.error) as error:
                self.send(error_answer(400, "invalid", f'PUT {{"match": REGEX, "seconds": S}}: {error}'))
                return
            with server.slow_lock:
                server.slow_rules.append((pattern, seconds))
        elif self.command == "DELETE":
            with server.slow_lock:
                server.slow_rules.clear()
                server.slow_jobs.clear()
                server.cancelled_jobs.clear()
        elif self.command not in ("GET", "HEAD"):
            self.send(error_answer(405, "invalid", "GET, PUT or DELETE /standin/slow-queries"))
            return
        with server.slow_lock:
            state = {"rules": [{"match": p.pattern, "seconds": s} for p, s in server.slow_rules],
                     "running": sorted(j for j, job in server.slow_jobs.items() if not job["cancelled"]), "cancelled": list(server.cancelled_jobs)}
        self.send(json_answer(200, state), head_only=self.command == "HEAD")

    def slow_job(self, p, body, request) -> Answer | None:
        """A jobs.query that a slow-query rule matches: started here, answered as a running job."""
        sql = request.get("query") if isinstance(request, dict) else None
        if not isinstance(sql, str) or not self.path.split("?", 1)[0].rstrip("/").endswith("/queries"):
            return None
        server = self.server
        with server.slow_lock:
            seconds = next((s for pattern, s in server.slow_rules if pattern.search(sql)), None)
            if seconds is None:
                return None
            job_id = f"standin_slow_{len(server.slow_jobs) + len(server.cancelled_jobs) + 1}_{int(time.time() * 1000)}"
            server.slow_jobs[job_id] = {"project": p["p"], "location": request.get("location"), "body": body,
                                        "headers": self.forwarded_headers(), "ready": time.monotonic() + seconds,
                                        "cancelled": False}
        return self.slow_answer(job_id, request.get("timeoutMs", 10000))

    def slow_answer(self, job_id: str, timeout_ms) -> Answer:
        """After at most the call's timeoutMs: still running, cancelled, or the emulator's answer."""
        server = self.server
        with server.slow_lock:
            job = server.slow_jobs[job_id]
        try:
            wait = max(0.0, float(timeout_ms) / 1000)
        except (TypeError, ValueError):
            wait = 10.0
        time.sleep(max(0.0, min(wait, job["ready"] - time.monotonic())))
        reference = {"projectId": job["project"], "jobId": job_id}
        if job["location"]:
            reference["location"] = job["location"]
        if job["cancelled"]:
            return json_answer(200, {"kind": "bigquery#getQueryResultsResponse", "jobReference": reference,
                                     "jobComplete": True, "errors": [{"reason": "stopped", "message":
                                                                       "Job execution was cancelled: User requested cancellation"}],
                                     "status": {"state": "DONE", "errorResult": {
                                         "reason": "stopped", "message": "Job execution was cancelled: User requested cancellation"}}})
        if time.monotonic() < job["ready"]:
            return json_answer(200, {"kind": "bigquery#queryResponse", "jobReference": reference, "jobComplete": False})
        with server.slow_lock:
            server.slow_jobs.pop(job_id, None)
        return self.upstream("POST", f"/bigquery/v2/projects/{urllib.parse.quote(job['project'], safe='')}/queries",
                             job["headers"], job["body"])

    def route_query_results(self, p, body):
        with self.server.slow_lock:
            known = p["j"] in self.server.slow_jobs
        if not known:
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        return self.slow_answer(p["j"], (query.get("timeoutMs") or [10000])[0])

    def route_cancel(self, p, body):
        server = self.server
        with server.slow_lock:
            job = server.slow_jobs.get(p["j"])
            if job is None:
                return None
            job["cancelled"] = True
            server.cancelled_jobs.append(p["j"])
        reference = {"projectId": job["project"], "jobId": p["j"]}
        if job["location"]:
            reference["location"] = job["location"]
        return json_answer(200, {"kind": "bigquery#jobCancelResponse",
                                 "job": {"jobReference": reference, "status": {"state": "DONE"}}})

    @staticmethod
    def parsed_json(body: bytes | None, encoding: str | None):
        if not body:
            return None
        try:
            return json.loads(decoded(body, encoding))
        except (ValueError, OSError, zlib.error, EOFError):
            return None

    # -- tables and datasets ------------------------------------------------------------

    def route_tables(self, p, body):
        if self.command == "POST":                      # tables.insert
            answer = self.forward(body)
            resource = self.parsed_json(body, self.headers.get("Content-Encoding"))
            if 200 <= answer.status < 300 and isinstance(resource, dict):
                reference = resource.get("tableReference") or {}
                key = (p["p"], reference.get("datasetId") or p["d"], reference.get("tableId") or "")
                if key[2]:
                    self.server.layouts.remember(key, resource)
                    created = answer.json()
                    if isinstance(created, dict) and self.server.layouts.fill(key, created):
                        answer = answer.with_json(created)
            return answer
        if self.command == "GET":                       # tables.list
            answer = self.forward(body)
            listing = answer.json() if answer.status == 200 else None
            if isinstance(listing, dict) and isinstance(listing.get("tables"), list):
                added = False
                for item in listing["tables"]:
                    reference = item.get("tableReference") if isinstance(item, dict) else None
                    if isinstance(reference, dict):
                        key = (reference.get("projectId") or p["p"], reference.get("datasetId") or p["d"],
                               reference.get("tableId") or "")
                        added |= self.server.layouts.fill(key, item)
                if added:
                    answer = answer.with_json(listing)
            return answer
        return None

    def route_table(self, p, body):
        key = (p["p"], p["d"], p["t"])
        answer = self.forward(body)
        if self.command in ("GET", "PATCH", "PUT") and 200 <= answer.status < 300:
            if self.command != "GET":
                resource = self.parsed_json(body, self.headers.get("Content-Encoding"))
                if isinstance(resource, dict):
                    self.server.layouts.update(key, resource)
            table = answer.json()
            if isinstance(table, dict) and self.server.layouts.fill(key, table):
                answer = answer.with_json(table)
        elif self.command == "DELETE" and (200 <= answer.status < 300 or answer.status == 404):
            self.server.layouts.forget(key)
        return answer

    def route_dataset(self, p, body):
        answer = self.forward(body)
        if 200 <= answer.status < 300 or answer.status == 404:
            self.server.layouts.forget_dataset(p["p"], p["d"])
        return answer

    # -- queries: DDL that creates or drops tables --------------------------------------

    _NAME = r"((?:`[^`]+`|[\w\-]+)(?:\.(?:`[^`]+`|[\w\-]+)){0,2})"
    _DROP = re.compile(r"\bDROP\s+(?:SNAPSHOT\s+|EXTERNAL\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I)
    _CREATE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                         + _NAME, re.I)
    _RENAME = re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME + r"\s+RENAME\s+TO\b", re.I)
    _RANGE = re.compile(r"\bPARTITION\s+BY\s+RANGE_BUCKET\s*\(\s*`?(\w+)`?\s*,\s*GENERATE_ARRAY\s*\(\s*"
                        r"(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s*\)", re.I)
    _CLUSTER = re.compile(r"\bCLUSTER\s+BY\s+(`?\w+`?(?:\s*,\s*`?\w+`?)*)", re.I)

    def table_key(self, name: str, project: str):
        parts = [part for part in name.replace("`", "").split(".") if part]
        if len(parts) == 3:
            return tuple(parts)
        if len(parts) == 2:
            return (project, parts[0], parts[1])
        return None

    def route_query(self, p, body):
        request = self.parsed_json(body, self.headers.get("Content-Encoding"))
        slow = self.slow_job(p, body, request)
        if slow is not None:
            return slow
        answer = self.forward(body)
        self.server.layouts.changed()
        if not isinstance(request, dict) or not 200 <= answer.status < 300:
            return answer
        sql = request.get("query")
        if sql is None:
            sql = ((request.get("configuration") or {}).get("query") or {}).get("query")
        if not isinstance(sql, str) or not re.search(r"\b(DROP|CREATE|ALTER)\b", sql, re.I):
            return answer
        result = answer.json()
        if not isinstance(result, dict) or result.get("errors") or (result.get("status") or {}).get("errorResult"):
            return answer
        layouts = self.server.layouts
        for match in list(self._DROP.finditer(sql)) + list(self._RENAME.finditer(sql)):
            key = self.table_key(match.group(1), p["p"])
            if key:
                layouts.forget(key)
        creates = list(self._CREATE.finditer(sql))
        for match in creates:
            key = self.table_key(match.group(1), p["p"])
            if key:
                layouts.forget(key)
        if len(creates) == 1:
            key = self.table_key(creates[0].group(1), p["p"])
            resource = {}
            ranged = self._RANGE.search(sql)
            if ranged:
                field, start, end, interval = ranged.groups()
                resource["rangePartitioning"] = {"field": field,
                                                 "range": {"start": start, "end": end, "interval": interval}}
                clustered = self._CLUSTER.search(sql)
                if clustered:
                    resource["clustering"] = {"fields": [f.strip().strip("`") for f in clustered.group(1).split(",")]}
            if key and resource:
                layouts.remember(key, resource)
        return answer

    # -- streaming inserts -----------------------------------------------------------------

    def columns(self, key) -> set[str]:
        """The table's column names (empty when unknown): BigQuery refuses a row naming others."""
        schema = (self.table_layout(key) or {}).get("schema") or []
        return {str(column.get("name")) for column in schema if isinstance(column, dict)}

    def table_layout(self, key) -> dict | None:
        """The remembered layout, else the emulator's table resource as it is (None: unknown)."""
        entry = self.server.layouts.known(key)
        return entry if entry is not None else self.look_up(key)

    def look_up(self, key) -> dict | None:
        hit, entry = self.server.layouts.cached_lookup(key)
        if hit:
            return entry
        target = "/bigquery/v2/projects/{}/datasets/{}/tables/{}".format(*(urllib.parse.quote(k, safe="") for k in key))
        headers = [(n, v) for n, v in self.forwarded_headers(drop=("content-type", "content-encoding", "accept-encoding"))]
        answer = self.upstream("GET", target, headers, None)
        table = answer.json() if answer.status == 200 else None
        entry = None
        if isinstance(table, dict):
            entry = {k: table[k] for k in LAYOUT_KEYS if isinstance(table.get(k), dict)}
            entry["schema"] = (table.get("schema") or {}).get("fields")
        if answer.status in (200, 404):
            self.server.layouts.store_lookup(key, entry)
        return entry

    def route_insert_all(self, p, body):
        key = (p["p"], p["d"], p["t"].split("$", 1)[0])
        name = "{}:{}.{}".format(*key)
        stats = self.server.stats
        if self.server.absorb_inserts and not self.server.checks_next_absorbed():
            try:
                raw = decoded(body or b"", self.headers.get("Content-Encoding"))
            except (OSError, zlib.error, EOFError):
                return error_answer(400, "invalid", "the body is not valid gzip")
            if self.server.insert_delay > 0:
                time.sleep(self.server.insert_delay)
            rows = raw.count(b'{"insertId":')
            stats.insert(name, rows=rows, accepted=rows)
            return json_answer(200, {"kind": "bigquery#tableDataInsertAllResponse"})
        payload = self.parsed_json(body, self.headers.get("Content-Encoding"))
        rows = payload.get("rows") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            return None                         # the emulator answers what it makes of it
        if self.server.insert_delay > 0:
            time.sleep(self.server.insert_delay)
        refused = self.refusals(key, name, rows)
        if self.server.absorb_inserts:
            bad = {i: {"index": i, "errors": [{"reason": "invalid", "location": "", "debugInfo": "",
                                               "message": "a row must be {\"insertId\": …, \"json\": {…}}"}]}
                   for i, row in enumerate(rows)
                   if not (isinstance(row, dict) and isinstance(row.get("json"), dict) and row.get("insertId"))
                   or not set(row["json"]) <= (self.columns(key) or set(row["json"]))}
            refused = {**bad, **refused}
            stats.insert(name, rows=len(rows), refused=len(refused), accepted=len(rows) - len(refused))
            return json_answer(200, {"kind": "bigquery#tableDataInsertAllResponse",
                                     "insertErrors": [refused[i] for i in sorted(refused)]})
        dropped = self.server.already_seen(key, rows, set(refused))
        if not refused and not dropped:
            answer = self.forward(body)
            self.count(name, len(rows), answer, list(range(len(rows))))
            result = answer.json() if answer.status == 200 else None
            if isinstance(result, dict):
                failed = {e.get("index") for e in result.get("insertErrors") or [] if isinstance(e, dict)}
                self.server.accepted(key, rows, [i for i in range(len(rows)) if i not in failed])
            return answer
        if dropped:
            print(f"bq_standin: {name}: {len(dropped)} of {len(rows)} rows dropped as insertIds seen "
                  f"within {self.server.dedupe_seconds:g} s", file=sys.stderr, flush=True)
        skip = payload.get("skipInvalidRows") is True
        if refused and not skip:
            errors = [refused.get(i) or {"index": i, "errors": [{"reason": "stopped", "location": "",
                                                                 "debugInfo": "", "message": ""}]}
                      for i in range(len(rows))]
            stats.insert(name, rows=len(rows), refused=len(refused), stopped=len(rows) - len(refused))
            self.report(name, len(rows), refused, inserted=False)
            return json_answer(200, {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors})
        kept = [i for i in range(len(rows)) if i not in refused and i not in dropped]
        merged = dict(refused)
        if kept:
            subset = dict(payload)
            subset["rows"] = [rows[i] for i in kept]
            headers = self.forwarded_headers(drop=("content-encoding",))
            answer = self.forward(json.dumps(subset, separators=(",", ":")).encode(), headers)
            result = answer.json() if answer.status == 200 else None
            if not isinstance(result, dict):
                stats.insert(name, rows=len(rows), refused=len(refused), failed=len(kept))
                self.report(name, len(rows), refused, inserted=False)
                return answer                   # the emulator's error, as it gave it
            for error in result.get("insertErrors") or []:
                try:
                    original = kept[int(error["index"])]
                except (KeyError, ValueError, TypeError, IndexError):
                    continue
                merged[original] = dict(error, index=original)
            failed = len(merged) - len(refused)
            stats.insert(name, rows=len(rows), refused=len(refused), failed=failed, accepted=len(kept) - failed,
                         deduplicated=len(dropped))
            self.server.accepted(key, rows, [i for i in kept if i not in merged])
        else:
            result = {"kind": "bigquery#tableDataInsertAllResponse"}
            answer = json_answer(200, result)
            stats.insert(name, rows=len(rows), refused=len(refused), deduplicated=len(dropped))
        result["insertErrors"] = [merged[i] for i in sorted(merged)]
        self.report(name, len(rows), refused, inserted=True)
        return answer.with_json(result)

    def count(self, name: str, total: int, answer: Answer, indexes: list[int]) -> None:
        result = answer.json() if answer.status == 200 else None
        if not isinstance(result, dict):
            self.server.stats.insert(name, rows=total, failed=total)
            return
        failed = len({e.get("index") for e in result.get("insertErrors") or [] if isinstance(e, dict)})
        self.server.stats.insert(name, rows=total, accepted=total - failed, failed=failed)

    def refusals(self, key, name: str, rows: list) -> dict[int, dict]:
        layout = self.table_layout(key)
        partitioning = (layout or {}).get("timePartitioning")
        if not isinstance(partitioning, dict) or not partitioning.get("field"):
            return {}
        field = str(partitioning["field"])
        column_type = None
        for column in (layout or {}).get("schema") or []:
            if isinstance(column, dict) and str(column.get("name", "")).lower() == field.lower():
                column_type = column.get("type")
        low, high = bounds(self.server.today())
        refused = {}
        for index, row in enumerate(rows):
            values = row.get("json") if isinstance(row, dict) else None
            if not isinstance(values, dict):
                continue
            value = next((v for k, v in values.items() if k.lower() == field.lower()), None)
            if value is None:
                continue                        # NULL goes to the __NULL__ partition
            instant = partition_instant(value, column_type)
            if instant is None or low <= instant[0] <= high:
                continue
            refused[index] = {"index": index, "errors": [{
                "reason": "invalid", "location": field, "debugInfo": "",
                "message": f"Value {instant[1]} for field {field} of the destination table {name} is outside "
                           f"the allowed bounds. You can only stream to date range within {PAST_DAYS} days in the "
                           f"past and {FUTURE_DAYS} days in the future relative to the current date."}]}
        return refused

    def report(self, name: str, total: int, refused: dict, inserted: bool) -> None:
        first = sorted(refused)[:5]
        more = "" if len(refused) <= 5 else f" (+{len(refused) - 5} more)"
        log(f"insertAll into {name}: refused {len(refused)} of {total} rows outside the streaming window "
            f"({'the others forwarded' if inserted else 'nothing inserted'}); indexes {first}{more}")


# ---------------------------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"bq_standin: --listen must be HOST:PORT, not {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise SystemExit(f"bq_standin: listens on loopback addresses only, not {host}")
    return host, int(port)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT to listen on (loopback; port 0 picks a free one)")
    parser.add_argument("--upstream", required=True, help="the emulator, http://HOST:PORT")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                        help="the date the streaming window is measured from (default: today, UTC)")
    parser.add_argument("--upstream-timeout", type=float, default=600.0,
                        help="seconds to wait for the emulator's answer (default 600)")
    parser.add_argument("--insert-delay-ms", type=float, default=0.0,
                        help="answer each insertAll this many milliseconds late (benchmarks; default 0)")
    parser.add_argument("--absorb-inserts", action="store_true",
                        help="check and count insertAll rows here instead of storing them (benchmarks)")
    parser.add_argument("--check-every", type=int, default=1,
                        help="with --absorb-inserts: check the rows of one request in N, count the others' (default 1)")
    parser.add_argument("--dedupe-seconds", type=float, default=60.0,
                        help="how long an accepted insertId drops the same id for the table (default 60, as BigQuery)")
    args = parser.parse_args(argv)
    host, port = parse_listen(args.listen)
    if ":" in host:
        StandIn.address_family = socket.AF_INET6
    server = StandIn((host, port), args.upstream, args.today, args.upstream_timeout,
                     insert_delay=args.insert_delay_ms / 1000, absorb_inserts=args.absorb_inserts,
                     check_every=args.check_every, dedupe_seconds=args.dedupe_seconds)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    log(f"listening on http://{bound_host}:{bound_port}, forwarding to "
        f"http://{server.upstream_host}:{server.upstream_port}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
