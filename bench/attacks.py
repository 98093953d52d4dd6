"""The `attacks` scenario of bench/run.sh: how a normal user is served while the portal is
attacked, and how much memory the attacks leave behind.

1. A UK file from ../shared/tools/gen_online_retail.py (BENCH_ATTACK_ROWS rows, seed 21) is
   ingested into a fresh data folder; `sales-portal serve` (release build, access log off) runs on it.
2. A normal user, from 127.0.0.1, makes five kinds of request: GET /healthz, GET /api/report/options
   and a one-month summary (both asked once before, so answered from the cache), a new question (a
   one-day summary never asked before, so computed) and a 50-row upload (a new file each time).
   Each is timed BENCH_ATTACK_PROBES times with the server idle.
3. Then again under each attack, started first and kept up while the probes run:
   - 4 slow uploads: four addresses each send an upload's head and then one byte a second;
   - 200 slow uploads: the same from 200 addresses;
   - 8 expensive questions: eight addresses each ask, back to back, for page 3900 of 500 invoices
     of a product that matches nothing (a different word every time, so never from the cache);
   - 20,000 idle connections (or as many as the descriptor limit allows): one address opens them
     and holds them open.
   The attacks run in child processes at nice 10 (their client work shares the cores).
4. Memory: VmRSS of the server when idle (after the start's precomputed answers), its peak
   (VmHWM) over the battery, and VmRSS 5 s after the last attack stopped.

Results go to bench/out/attacks-<time>.json and into RESULTS.md (its "Under attack" section,
the rest kept). Every loop is bounded in count and time; every request has a timeout.

usage: attacks.py --binary PATH --out DIR [--results RESULTS.md]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from report import write_section

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADING = "## Under attack"
TIMEOUT = 60


def log(message):
    print(f"[attacks {time.strftime('%H:%M:%S')}] {message}", flush=True)


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def multipart(name, content):
    boundary = f"bench{random.getrandbits(64):016x}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    def __init__(self, binary, config, data, logfile):
        self.logfile = logfile
        with open(logfile, "w") as handle:
            self.process = subprocess.Popen(
                [binary, "serve", "--config", config, "--host", "127.0.0.1", "--port", "0", "--data-dir", data],
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            match = re.search(r"listening on http://[\d.]+:(\d+)", open(logfile).read())
            if match:
                self.port = int(match.group(1))
            elif self.process.poll() is not None:
                raise RuntimeError(f"sales-portal exited: see {logfile}")
            else:
                time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError(f"sales-portal did not start: see {logfile}")

    def request(self, method, path, body=None, headers=None, source="127.0.0.1", timeout=TIMEOUT):
        """(status, body, seconds) of one request on a new connection from `source`."""
        began = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source, 0))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, data, time.perf_counter() - began
        except (OSError, http.client.HTTPException) as error:
            return None, str(error).encode(), time.perf_counter() - began
        finally:
            connection.close()

    def rss_kib(self):
        return status_kib(self.process.pid, "VmRSS")

    def peak_kib(self):
        return status_kib(self.process.pid, "VmHWM")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- the normal user

class NormalUser:
    def __init__(self, server):
        self.server = server
        self.uploads = 0
        self.days = 0

    def upload_file(self):
        self.uploads += 1
        first = 900000 + self.uploads * 100
        lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
        for row in range(50):
            lines.append(f"{first + row // 5},{84000 + row},BENCH ITEM {row},{row % 7 + 1},3/{row % 28 + 1}/2011 10:{row:02d},"
                         f"{row % 9 + 0.5},{17000 + row},United States")
        return multipart("USA.csv", ("\r\n".join(lines) + "\r\n").encode())

    def probe(self, kind):
        """Seconds of one request of `kind`; raises when the answer is not the expected one."""
        if kind == "upload":
            body, content_type = self.upload_file()
            status, data, seconds = self.server.request("POST", "/api/uploads", body, {"Content-Type": content_type})
            ok = status == 200 and json.loads(data)["uploads"][0]["status"] == "loaded"
        else:
            status, data, seconds = self.server.request("GET", self.path(kind))
            ok = status == 200
        if not ok:
            raise RuntimeError(f"the normal user's {kind} failed: {status} {data[:300]!r}")
        return seconds

    def path(self, kind):
        if kind == "new question":
            # A day's summary no one asked for before: computed, never from the cache.
            self.days += 1
            day = f"{2010 + (self.days // 300) % 2}-{1 + (self.days // 28) % 12:02d}-{1 + self.days % 28:02d}"
            return f"/api/report/summary?from={day}&to={day}&country=United%20Kingdom"
        return {"healthz": "/healthz", "options": "/api/report/options",
                "summary": "/api/report/summary?from=2011-03-01&to=2011-03-31"}[kind]


KINDS = ["healthz", "options", "summary", "new question", "upload"]
CACHED = ["options", "summary"]


# ---------------------------------------------------------------- attacks

class Attack:
    """An attack run in a child process (so that it never shares the normal user's interpreter),
    from `start` until `stop`."""

    def start(self):
        self.stop_event = multiprocessing.Event()
        self.ready_event = multiprocessing.Event()
        self.results = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=self.child, daemon=True)
        self.process.start()
        if not self.ready_event.wait(120):
            self.stop()
            raise RuntimeError(f"{type(self).__name__} did not get going")
        self.settle()

    def child(self):
        # The attackers share this machine's cores with the server and the normal user; at nice 10
        # their own client work weighs less on what is measured (a real attacker's is elsewhere).
        os.nice(10)
        result = self.run()
        self.results.put(result)

    def settle(self):
        """Waits in the parent until the attack is felt by the server."""

    def stop(self):
        self.stop_event.set()
        try:
            self.outcome = self.results.get(timeout=TIMEOUT + 30)
        except Exception:
            self.outcome = None
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


class SlowUploads(Attack):
    """`count` uploads from as many addresses (127.0.2.x, 127.0.3.x …), each sending its head and then one byte a second."""

    def __init__(self, server, count):
        self.server, self.count = server, count

    def settle(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, data, _ = self.server.request("GET", "/readyz")
            if status in (200, 503) and json.loads(data)["load"].get("uploads_in_progress", 0) >= self.count:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the {self.count} slow uploads did not all begin")

    def run(self):
        body, content_type = multipart("UK.csv", b"InvoiceNo,StockCode\r\n" * 5000)
        head = (f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        sockets = []
        for n in range(self.count):
            sock = socket.socket()
            sock.bind((f"127.0.{2 + n // 250}.{1 + n % 250}", 0))
            sock.settimeout(10)
            sock.connect(("127.0.0.1", self.server.port))
            sock.sendall(head)
            sock.setblocking(False)
            sockets.append(sock)
        self.ready_event.set()
        sent = 0
        while not self.stop_event.wait(1.0) and sent < len(body):
            for sock in sockets:
                try:
                    sock.send(body[sent:sent + 1])
                except OSError:
                    pass
            sent += 1
        for sock in sockets:
            sock.close()
        return {"bytes_sent_each": sent}


class ExpensiveQuestions(Attack):
    """Eight addresses asking for a deep page of invoices of a product that matches nothing, back to back."""

    def __init__(self, server, clients=8):
        self.server, self.clients = server, clients

    def settle(self):
        time.sleep(1.0)  # every client has a question in flight

    def run(self):
        statuses = {}
        lock = threading.Lock()

        def ask(n):
            while not self.stop_event.is_set():
                word = f"a{random.getrandbits(32):08x}"
                status, _, _ = self.server.request(
                    "GET", f"/api/report/invoices?page=3900&page_size=500&product={word}", source=f"127.0.4.{n + 1}")
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                if status in (429, 503):
                    time.sleep(0.2)
        threads = [threading.Thread(target=ask, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        self.ready_event.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT + 5)
        return {"asked": sum(statuses.values()), "statuses": {str(k): v for k, v in statuses.items()}}


class IdleConnections(Attack):
    """One address opening `count` connections and holding them (the server keeps its share)."""

    def __init__(self, server, count):
        self.server, self.count = server, count

    @staticmethod
    def most():
        """20,000, or what the descriptor limit leaves room for (raised to its hard limit)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return min(20000, hard - 500)

    def settle(self):
        time.sleep(1.0)  # the server has accepted (and refused past its cap) what was opened

    def run(self):
        sockets, failed = [], 0
        for _ in range(self.count):
            sock = socket.socket()
            sock.bind(("127.0.5.1", 0))
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", self.server.port))
            except BlockingIOError:
                pass
            except OSError:
                sock.close()
                failed += 1
                continue
            sockets.append(sock)
        self.ready_event.set()
        self.stop_event.wait(TIMEOUT * 5)
        for sock in sockets:
            sock.close()
        return {"opened": len(sockets), "failed": failed}


# ---------------------------------------------------------------- the run

def measure(user, probes):
    for kind in CACHED:
        user.probe(kind)  # answered and kept since the last uploads: what follows is read from the cache
    figures = {}
    for kind in KINDS:
        times = [user.probe(kind) for _ in range(probes)]
        figures[kind] = {"p50_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--results")
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ATTACK_ROWS", 2_000_000)))
    parser.add_argument("--probes", type=int, default=int(os.environ.get("BENCH_ATTACK_PROBES", 9)))
    parser.add_argument("--generator", default=os.path.join(ROOT, "..", "shared", "tools", "gen_online_retail.py"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    data_file = os.path.join(args.out, f"attacks-UK-{args.rows}.csv")
    if not os.path.exists(data_file):
        log(f"generating {data_file}")
        with open(data_file + ".tmp", "wb") as handle:
            subprocess.run([sys.executable, args.generator, "--rows", str(args.rows), "--region", "UK", "--seed", "21"],
                           stdout=handle, check=True, timeout=3600)
        os.replace(data_file + ".tmp", data_file)
    data = os.path.join(args.out, "attacks-data")
    shutil.rmtree(data, ignore_errors=True)
    log(f"ingesting {args.rows:,} rows")
    subprocess.run([args.binary, "ingest", data_file, "--region", "UK", "--data-dir", data],
                   stdout=subprocess.DEVNULL, check=True, timeout=3600)
    config = os.path.join(args.out, "attacks-config.json")
    with open(config, "w") as handle:
        json.dump({"server": {"accessLog": False}}, handle)

    server = Server(args.binary, config, data, os.path.join(args.out, "attacks-server.log"))
    result = {"rows": args.rows, "probes": args.probes, "attacks": []}
    try:
        user = NormalUser(server)
        for kind in KINDS:
            user.probe(kind)  # the first answers (and the precomputed ones) are in place
        time.sleep(2)
        result["idle_rss_mib"] = server.rss_kib() / 1024
        log(f"idle: {result['idle_rss_mib']:.1f} MiB")
        result["alone"] = measure(user, args.probes)
        idle = IdleConnections.most()
        attacks = [("4 slow uploads (1 byte/s each, 4 addresses)", lambda: SlowUploads(server, 4)),
                   ("200 slow uploads (1 byte/s each, 200 addresses)", lambda: SlowUploads(server, 200)),
                   ("8 expensive questions, back to back (8 addresses)", lambda: ExpensiveQuestions(server)),
                   (f"{idle:,} idle connections from one address", lambda: IdleConnections(server, idle))]
        for label, make in attacks:
            log(label)
            attack = make()
            attack.start()
            try:
                figures = measure(user, args.probes)
            finally:
                attack.stop()
            entry = {"attack": label, "figures": figures, "rss_after_mib": server.rss_kib() / 1024,
                     "peak_so_far_mib": server.peak_kib() / 1024}
            if isinstance(attack, ExpensiveQuestions) and attack.outcome:
                entry["questions"] = attack.outcome
            result["attacks"].append(entry)
        result["peak_rss_mib"] = server.peak_kib() / 1024
        time.sleep(5)
        result["settled_rss_mib"] = server.rss_kib() / 1024
    finally:
        server.stop()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, f"attacks-{stamp}.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    section = render(result)
    print("\n".join(section))
    if args.results:
        write_section(HEADING, section, args.results)


def render(result):
    lines = [HEADING, "",
             f"A normal user's requests alone and during each attack, on a warehouse of {result['rows']:,} rows "
             f"(`bench/attacks.py`; {result['probes']} of each request, median / slowest, ms).", ""]
    header = "| while | " + " | ".join(f"{kind}" for kind in KINDS) + " | worst median ÷ alone |"
    lines += [header, "|---" * (len(KINDS) + 2) + "|"]

    def row(label, figures):
        cells = [f"{figures[k]['p50_ms']:.1f} / {figures[k]['max_ms']:.1f}" for k in KINDS]
        ratio = max(figures[k]["p50_ms"] / max(result["alone"][k]["p50_ms"], 0.001) for k in KINDS)
        return f"| {label} | " + " | ".join(cells) + f" | {ratio:.2f}× |"
    lines.append(row("nothing else (alone)", result["alone"]))
    for entry in result["attacks"]:
        lines.append(row(entry["attack"], entry["figures"]))
    lines.append("")
    for entry in result["attacks"]:
        if "questions" in entry:
            asked = entry["questions"]
            lines.append(f"- The expensive questions: {asked['asked']} asked, answered {asked['statuses']} (status: count).")
    lines.append("- Memory after each attack (VmRSS / VmHWM so far, MiB): " + "; ".join(
        f"{entry['attack'].split(' (')[0]}: {entry['rss_after_mib']:.1f} / {entry['peak_so_far_mib']:.1f}"
        for entry in result["attacks"] if "rss_after_mib" in entry) + ".")
    lines.append(f"- Memory (VmRSS): idle {result['idle_rss_mib']:.1f} MiB; peak over the battery (VmHWM) "
                 f"{result['peak_rss_mib']:.1f} MiB ({result['peak_rss_mib'] / result['idle_rss_mib']:.2f}× idle); "
                 f"5 s after the last attack {result['settled_rss_mib']:.1f} MiB "
                 f"({result['settled_rss_mib'] / result['idle_rss_mib']:.2f}× idle).")
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
