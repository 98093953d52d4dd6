#!/usr/bin/env python3
"""The gcp deployment's load at BigQuery's pace: a generated file uploaded with curl to a
release sales-portal in gcp mode, whose Cloud Storage is the local emulator and whose BigQuery
is scripts/bq_standin.py in front of the BigQuery emulator, answering every insertAll after a
delay (default 100 ms: a WAN round trip plus BigQuery's own time) and checking and counting the
rows instead of storing them (the emulator holds every row in memory and stores about 1,000 a
second). Everything else (datasets, tables, queries) reaches the emulator.

Prints one JSON object: rows, seconds end to end and for the load, rows per second, the
server's peak RSS, insertAll requests and bytes per row before and after gzip.
Loopback only; every wait is bounded."""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--file", required=True, help="the CSV to upload (named after its region, e.g. UK-1M.csv)")
    parser.add_argument("--rows", type=int, required=True, help="its data rows")
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--check-every", type=int, default=10, help="the stand-in checks the rows of one request in N")
    parser.add_argument("--storage", default=os.environ.get("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9023"))
    parser.add_argument("--bigquery", default=os.environ.get("BIGQUERY_EMULATOR_UPSTREAM", "http://127.0.0.1:9051"),
                        help="the BigQuery emulator itself (not a stand-in)")
    parser.add_argument("--out", default=os.path.join(HERE, "out"))
    parser.add_argument("--gcp", action="append", default=[], metavar="SETTING=VALUE",
                        help="a gcp setting for the server, e.g. concurrentInserts=16 (repeatable)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="gcp-load-", dir=args.out)
    standin_port = free_port()
    # The stand-in's own work stands for BigQuery's, which is not done on the portal's cores: it
    # parses one request in ten in full (every row against the table's columns and the streaming
    # window) and counts the rows of the others; its CPU is reported apart.
    standin = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts", "bq_standin.py"), "--listen", f"127.0.0.1:{standin_port}",
         "--upstream", args.bigquery, "--insert-delay-ms", str(args.delay_ms), "--absorb-inserts",
         "--check-every", str(args.check_every)],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "standin.log"), "w"), start_new_session=True)
    server = None
    try:
        wait_for(f"http://127.0.0.1:{standin_port}/standin/stats")
        suffix = f"{os.getpid()}_{int(time.time())}"
        config = os.path.join(work, "config.json")
        with open(config, "w") as handle:
            json.dump({"storage": {"mode": "gcp"}, "server": {"accessLog": False},
                       "gcp": {"project": "test-project", "bucket": f"bench-{suffix}".replace("_", "-"),
                               "dataset": f"bench_{suffix}", "storageEndpoint": args.storage,
                               "bigqueryEndpoint": f"http://127.0.0.1:{standin_port}",
                               **{name: int(value) for name, value in (item.split("=", 1) for item in args.gcp)}}}, handle)
        log_path = os.path.join(work, "server.log")
        server = subprocess.Popen(
            [args.binary, "serve", "--config", config, "--host", "127.0.0.1", "--port", "0",
             "--data-dir", os.path.join(work, "data")],
            stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True, start_new_session=True)
        line = server.stdout.readline()
        match = re.search(r"listening on http://[\d.]+:(\d+)", line or "")
        if not match:
            raise RuntimeError(f"sales-portal did not start: {open(log_path).read()[-2000:]}")
        port = int(match.group(1))
        started = time.monotonic()
        answer = subprocess.run(["curl", "-sS", "--max-time", "900", "-F", f"file=@{args.file};filename=UK.csv",
                                 f"http://127.0.0.1:{port}/api/uploads"], capture_output=True, text=True, check=True)
        seconds = time.monotonic() - started
        upload = json.loads(answer.stdout)["uploads"][0]
        if upload["status"] != "loaded":
            raise RuntimeError(f"the upload was not loaded: {answer.stdout[:1000]}")
        peak = vm_hwm_mib(server.pid)
        server_cpu = cpu_seconds(server.pid)
        standin_cpu = cpu_seconds(standin.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        report = open(log_path).read()
        totals = re.search(r"insertAll into \S+: (\d+) requests, (\d+) rows, (\d+) bytes of JSON \(([\d.]+) per row\), "
                           r"(\d+) bytes sent \(([\d.]+) per row after gzip\)", report)
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{standin_port}/standin/stats", timeout=5))
        load_seconds = upload["timings"]["load_ms"] / 1000
        result = {
            "rows": args.rows, "loaded": upload["rows"]["loaded"], "delay_ms": args.delay_ms,
            "seconds_end_to_end": round(seconds, 2), "store_seconds": round(upload["timings"]["store_ms"] / 1000, 2),
            "load_seconds": round(load_seconds, 2),
            "rows_per_second_load": round(upload["rows"]["read"] / load_seconds),
            "rows_per_second_end_to_end": round(upload["rows"]["read"] / seconds),
            "peak_rss_mib": round(peak, 1),
            "server_cpu_seconds": round(server_cpu, 1), "standin_cpu_seconds": round(standin_cpu, 1),
            "insert_requests": int(totals.group(1)) if totals else None,
            "json_bytes_per_row": float(totals.group(4)) if totals else None,
            "gzip_bytes_per_row": float(totals.group(6)) if totals else None,
            "standin": stats,
        }
        print(json.dumps(result, indent=2))
    finally:
        if server and server.poll() is None:
            server.kill()
        standin.send_signal(signal.SIGTERM)
        try:
            standin.wait(timeout=10)
        except subprocess.TimeoutExpired:
            standin.kill()
        shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)


if __name__ == "__main__":
    main()
