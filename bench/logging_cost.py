#!/usr/bin/env python3
"""What the access log costs on GET /healthz: SalesPortal with the access log off, as text and
as JSON lines (Cloud Logging's fields), beside nginx with its access log off and on, in one run
(`wrk -t2 -c64`, alternating rounds, each server fresh and writing its log to a file). Request
metrics are always counted by SalesPortal (per route, by status, with a latency histogram), so
they are in every one of its figures.

usage: logging_cost.py --binary PATH --out DIR [--results RESULTS.md] [--rounds 3] [--seconds 10]

Results go to DIR/logging-cost.json and, with --results, into RESULTS.md (its "Cost of the access
log" section, the rest of the file kept as it is).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time

from bench import free_port, wait_for_port
from report import write_section

HEADING = "## Cost of the access log"
VARIANTS = [
    ("ours, access log off", "ours", {"accessLog": False}),
    ("ours, access log as text", "ours", {"accessLog": True, "logFormat": "text"}),
    ("ours, access log as JSON", "ours", {"accessLog": True, "logFormat": "json"}),
    ("nginx, access log off", "nginx", {"access_log": "off"}),
    ("nginx, access log on", "nginx", {"access_log": "on"}),
]


def start_ours(binary: str, out: str, name: str, server: dict) -> tuple[subprocess.Popen, int]:
    data = os.path.join(out, "logging-data", name)
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    config = os.path.join(data, "config.json")
    with open(config, "w") as handle:
        json.dump({"server": server}, handle)
    port = free_port()
    log = open(os.path.join(data, "stdout.log"), "w")
    process = subprocess.Popen([binary, "serve", "--config", config, "--host", "127.0.0.1", "--port", str(port),
                                "--data-dir", data], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port)
    return process, port


def start_nginx(out: str, name: str, access_log: str) -> tuple[subprocess.Popen, int]:
    prefix = os.path.join(out, "logging-nginx", name)
    shutil.rmtree(prefix, ignore_errors=True)
    os.makedirs(prefix)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    log_line = f"access_log {prefix}/access.log;" if access_log == "on" else "access_log off;"
    with open(os.path.join(prefix, "nginx.conf"), "w") as handle:
        handle.write(f"""
{user}
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    {log_line}
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /healthz {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
""")
    process = subprocess.Popen(["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-e", f"{prefix}/error.log"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port)
    return process, port


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def wrk(port: int, seconds: int) -> float:
    output = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}/healthz"],
                            capture_output=True, text=True, timeout=seconds + 30).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--results")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runs: dict[str, list[float]] = {label: [] for label, _, _ in VARIANTS}
    for round_number in range(args.rounds):
        for label, kind, settings in VARIANTS:
            name = re.sub(r"[^a-z]+", "-", label)
            process, port = (start_ours(args.binary, args.out, name, settings) if kind == "ours"
                             else start_nginx(args.out, name, settings["access_log"]))
            try:
                wrk(port, 1)  # warm-up
                runs[label].append(wrk(port, args.seconds))
            finally:
                stop(process)
            print(f"round {round_number + 1}: {label}: {runs[label][-1]:,.0f} requests/s", flush=True)
    with open(os.path.join(args.out, "logging-cost.json"), "w") as handle:
        json.dump(runs, handle, indent=1)
    if args.results:
        write_section(HEADING, section(runs, args), args.results)


def section(runs: dict[str, list[float]], args) -> list[str]:
    medians = {label: statistics.median(values) for label, values in runs.items()}
    quiet = medians["ours, access log off"]
    nginx_on = medians["nginx, access log on"]
    lines = [HEADING, "",
             f"GET /healthz, requests/s (`wrk -t2 -c64 -d{args.seconds}s`, {args.rounds} alternating rounds, each "
             "server fresh; `bench/logging_cost.py`). SalesPortal always counts request metrics.", "",
             "| server | median (min–max) | ÷ ours with no access log | ÷ nginx with its access log |", "|---|---|---|---|"]
    for label, values in runs.items():
        lines.append(f"| {label} | {medians[label]:,.0f} ({min(values):,.0f}–{max(values):,.0f}) | "
                     f"{medians[label] / quiet:.2f}× | {medians[label] / nginx_on:.2f}× |")
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
