"""Runs every measurement of bench/run.sh and writes bench/RESULTS.md.

Servers run on 127.0.0.1 only; every loop is bounded in count and time. Each scenario
starts fresh servers, so the peak RSS read from /proc/PID/status (VmHWM) is the scenario's.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Server:
    """A running server: its process group, the pids whose memory counts, a base URL."""

    def __init__(self, name, process, port, with_children):
        self.name, self.process, self.port, self.with_children = name, process, port, with_children
        self.url = f"http://127.0.0.1:{port}"

    def pids(self):
        pids = [self.process.pid]
        if self.with_children:
            pids += children(self.process.pid)
        return pids

    def peak_rss_mib(self):
        """Sum of VmHWM over the processes (master and workers for nginx and gunicorn)."""
        return sum(status_kib(pid, "VmHWM") for pid in self.pids()) / 1024

    def cpu(self):
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if self.name != "nginx" else signal.SIGQUIT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.results = {"runs": {}, "rss": {}, "cpu": {}, "notes": []}

    # ---- servers ----

    def start_ours(self, scenario, data=None):
        if data is None:
            data = os.path.join(self.out, "data", f"ours-{scenario}")
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
        config = os.path.join(self.out, "ours-config.json")
        # The portal's own pages (it reads them at start) and the 4 KB page of the static scenario.
        public = os.path.join(self.out, "public")
        if not os.path.exists(os.path.join(public, "page.html")):
            shutil.rmtree(public, ignore_errors=True)
            shutil.copytree(os.path.join(ROOT, "Public"), public)
            shutil.copy(os.path.join(HERE, "static", "page.html"), public)
        with open(config, "w") as handle:
            # The idle scenario holds 10,000 connections from this one address.
            json.dump({"server": {"publicDir": public, "accessLog": True,
                                  "limits": {"maxConnectionsPerClient": 20000}}}, handle)
        logfile = open(os.path.join(self.out, f"ours-{scenario}.log"), "w")
        process = subprocess.Popen(
            [self.args.binary, "serve", "--config", config, "--host", "127.0.0.1", "--port", "0", "--data-dir", data],
            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(logfile.name) as reader:
                match = re.search(r"listening on http://[\d.]+:(\d+)", reader.read())
            if match:
                return Server("ours", process, int(match.group(1)), False)
            if process.poll() is not None:
                raise RuntimeError(f"sales-portal exited: see {logfile.name}")
            time.sleep(0.05)
        raise RuntimeError("sales-portal did not print its address")

    def start_nginx(self, scenario):
        prefix = os.path.join(self.out, "nginx")
        os.makedirs(os.path.join(prefix, "body"), exist_ok=True)
        port = free_port()
        conf = os.path.join(prefix, "nginx.conf")
        user = "user root;" if os.geteuid() == 0 else ""
        with open(conf, "w") as handle:
            handle.write(f"""
{user}
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    default_type text/html;
    access_log {prefix}/access-{scenario}.log;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {HERE}/static;
        location = /healthz {{ default_type text/plain; return 200 "ok\\n"; }}
        location = /api/uploads {{
            client_max_body_size 0;
            client_body_buffer_size 1m;
            client_body_in_file_only clean;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://127.0.0.1:{port}/stored;
        }}
        location = /stored {{ access_log off; return 204; }}
    }}
}}
""")
        process = subprocess.Popen(["nginx", "-p", prefix, "-c", conf, "-e", f"{prefix}/error.log"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(port)
        deadline = time.monotonic() + 10
        while len(children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return Server("nginx", process, port, True)

    def start_flask(self, scenario):
        data = os.path.join(self.out, "data", f"flask-{scenario}")
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        port = free_port()
        process = subprocess.Popen(
            [os.path.join(self.args.venv, "bin", "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
             "--timeout", "900", "--access-logfile", os.path.join(self.out, f"flask-{scenario}.access.log"),
             "--chdir", os.path.join(HERE, "peers"), f"flask_portal:create_app({data!r})"],
            stdout=open(os.path.join(self.out, f"flask-{scenario}.log"), "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for_port(port)
        deadline = time.monotonic() + 10
        while len(children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return Server("flask", process, port, True)

    def record(self, key, value):
        self.results["runs"].setdefault(key, []).append(value)

    def scenario(self, name, servers):
        """Starts the servers, yields them, then records their peak RSS and CPU time."""
        started = {}
        try:
            for kind in servers:
                started[kind] = getattr(self, f"start_{kind}")(name)
            cpu_before = {kind: server.cpu() for kind, server in started.items()}
            yield started
            for kind, server in started.items():
                self.results["rss"].setdefault(f"{name}/{kind}", []).append(server.peak_rss_mib())
                self.results["cpu"].setdefault(f"{name}/{kind}", []).append(server.cpu() - cpu_before[kind])
        finally:
            for server in started.values():
                server.stop()

    # ---- measurements ----

    def wrk(self, url, seconds=None):
        seconds = seconds or self.args.wrk_seconds
        output = subprocess.run(
            ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", url],
            capture_output=True, text=True, timeout=seconds + 30).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", output)
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output)
        if errors:
            self.results["notes"].append(f"wrk {url}: {errors.group(0)}")
        return {"rps": rps, "p99_ms": p99_ms}

    def http_scenarios(self):
        for path, name in (("/healthz", "healthz"), ("/page.html", "static")):
            log(f"{name}: ours and nginx, {self.args.rounds} alternating rounds of wrk")
            for servers in self.scenario(name, ["ours", "nginx"]):
                for server in servers.values():  # warm up
                    subprocess.run(["wrk", "-t1", "-c8", "-d1s", server.url + path], capture_output=True, timeout=30)
                for _ in range(self.args.rounds):
                    for kind in ("ours", "nginx"):
                        self.record(f"{name}/{kind}", self.wrk(servers[kind].url + path))
        log("healthz: flask (gunicorn, 2 sync workers), one round")
        for servers in self.scenario("healthz-flask", ["flask"]):
            self.record("healthz/flask", self.wrk(servers["flask"].url + "/healthz"))

    def curl_upload(self, url, path):
        response = os.path.join(self.out, "response.json")
        output = subprocess.run(
            ["curl", "-sS", "--max-time", "900", "-o", response, "-w", "%{json}",
             "-F", f"file=@{path};filename=UK.csv", url],
            capture_output=True, text=True, timeout=960)
        if output.returncode != 0:
            raise RuntimeError(f"curl failed: {output.stderr}")
        timing = json.loads(output.stdout)
        body = open(response, "rb").read()
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        return timing, answer

    def upload_scenarios(self):
        for label, path in self.args.files:
            rows = self.args.rows[label]
            size = os.path.getsize(path)
            rounds = self.args.rounds if rows <= 1_000_000 else max(1, self.args.rounds - 1)
            log(f"upload {label}: ours, {rounds} whole-pipeline uploads, each to a fresh server and database")
            for index in range(rounds):
                # A fresh server and database for each full load.
                for servers in self.scenario(f"upload-{label}", ["ours"]):
                    server = servers["ours"]
                    os.sync()  # start each load without writeback left over from the one before
                    cpu_before = server.cpu()
                    timing, answer = self.curl_upload(server.url + "/api/uploads", path)
                    cpu = server.cpu() - cpu_before
                    upload = answer["uploads"][0]
                    if upload.get("status") != "loaded":
                        raise RuntimeError(f"upload not loaded: {upload}")
                    self.record(f"pipeline-{label}/ours", {
                        "seconds": timing["time_total"], "rows_per_s": rows / timing["time_total"],
                        "cpu_s": cpu, "rows_per_cpu_s": rows / cpu if cpu else 0,
                        "loaded": upload["rows"]["loaded"], "store_ms": upload["timings"]["store_ms"],
                        "load_ms": upload["timings"]["load_ms"]})
            log(f"upload {label}: ours, {rounds} raw uploads (re-uploads of a file already loaded by ingest)")
            data = os.path.join(self.out, "data", f"ours-raw-{label}")
            shutil.rmtree(data, ignore_errors=True)
            subprocess.run([self.args.binary, "ingest", path, "--region", "UK", "--data-dir", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=900)
            os.sync()  # no writeback of the load left to compete with the measurement
            started = {}
            try:
                started["ours"] = self.start_ours(f"raw-{label}", data=data)
                server = started["ours"]
                for _ in range(rounds):
                    timing, answer = self.curl_upload(server.url + "/api/uploads", path)
                    status = answer["uploads"][0].get("status")
                    if status != "already_loaded":
                        raise RuntimeError(f"re-upload answered {status}")
                    self.record(f"raw-{label}/ours", {"seconds": timing["time_total"],
                                                       "mb_per_s": size / 1e6 / timing["time_total"]})
                self.results["rss"].setdefault(f"raw-{label}/ours", []).append(server.peak_rss_mib())
            finally:
                for server in started.values():
                    server.stop()
            shutil.rmtree(data, ignore_errors=True)
            os.sync()
            log(f"upload {label}: nginx spooling the body to disk, {rounds} rounds")
            for servers in self.scenario(f"upload-{label}-nginx", ["nginx"]):
                for _ in range(rounds):
                    timing, _ = self.curl_upload(servers["nginx"].url + "/api/uploads", path)
                    if timing["http_code"] != 204:
                        raise RuntimeError(f"nginx answered {timing['http_code']}")
                    self.record(f"raw-{label}/nginx", {"seconds": timing["time_total"],
                                                        "mb_per_s": size / 1e6 / timing["time_total"]})
            flask_rounds = 1 if rows > 1_000_000 else min(2, rounds)
            log(f"upload {label}: flask portal, {flask_rounds} round(s)")
            for servers in self.scenario(f"upload-{label}-flask", ["flask"]):
                for _ in range(flask_rounds):
                    os.sync()
                    timing, answer = self.curl_upload(servers["flask"].url + "/api/uploads", path)
                    upload = answer["uploads"][0]
                    if upload.get("status") != "loaded":
                        raise RuntimeError(f"flask upload not loaded: {upload}")
                    self.record(f"pipeline-{label}/flask", {
                        "seconds": timing["time_total"], "rows_per_s": rows / timing["time_total"],
                        "loaded": upload["rows"]["loaded"], "store_ms": upload["timings"]["store_ms"]})

    def ingest_scenarios(self):
        for label, path in self.args.files:
            rows = self.args.rows[label]
            rounds = self.args.rounds if rows <= 1_000_000 else max(1, self.args.rounds - 1)
            log(f"ingest {label}: {rounds} rounds")
            for index in range(rounds):
                data = os.path.join(self.out, "data", f"ingest-{label}-{index}")
                shutil.rmtree(data, ignore_errors=True)
                os.sync()
                started = time.monotonic()
                process = subprocess.Popen([self.args.binary, "ingest", path, "--region", "UK", "--data-dir", data],
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                stdout = process.stdout.read()
                _, status, usage = os.wait4(process.pid, 0)
                seconds = time.monotonic() - started
                if status != 0:
                    raise RuntimeError(f"ingest failed with status {status}")
                answer = json.loads(stdout)
                loaded = answer["uploads"][0]["rows"]["loaded"] if "uploads" in answer else None
                self.record(f"ingest-{label}/ours", {
                    "seconds": seconds, "rows_per_s": rows / seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
                    "rows_per_cpu_s": rows / (usage.ru_utime + usage.ru_stime), "peak_rss_mib": usage.ru_maxrss / 1024,
                    "loaded": loaded})
                shutil.rmtree(data, ignore_errors=True)

    def idle_scenario(self):
        count = self.args.idle_connections
        for kind in ("ours", "nginx"):
            log(f"{count} idle keep-alive connections held on {kind} while wrk measures /healthz")
            for servers in self.scenario(f"idle-{kind}", [kind]):
                server = servers[kind]
                holder = subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "idle_clients.py"), "127.0.0.1", str(server.port), str(count),
                     "--hold-seconds", "50"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                try:
                    line = holder.stdout.readline().strip()
                    if not line.startswith("ready"):
                        raise RuntimeError(f"idle clients failed: {line!r}")
                    self.record(f"idle/{kind}", self.wrk(server.url + "/healthz"))
                    holder.stdin.close()
                    alive = holder.stdout.readline().strip()
                    self.results["notes"].append(f"idle {kind}: {line}, after the measurement {alive}")
                finally:
                    holder.kill()
                    holder.wait()

    def sqlite_ceiling(self):
        log("SQLite ceiling: pre-built rows, same schema and indexes, no parsing")
        output = subprocess.run([self.args.ceiling, os.path.join(self.out, "ceiling.sqlite"), "1000000"],
                                capture_output=True, text=True, timeout=300)
        for line in output.stdout.splitlines():
            entry = json.loads(line)
            self.record(f"ceiling/{entry['layout']}", {
                "seconds": entry["wall_s"], "rows_per_s": entry["rows"] / entry["wall_s"],
                "rows_per_cpu_s": entry["rows"] / entry["cpu_s"]})


def machine():
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = status_line("/proc/meminfo", "MemTotal")
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "kernel": platform.release(),
            "memory": memory, "load": open("/proc/loadavg").read().split()[:3]}


def status_line(path, field):
    with open(path) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--ceiling", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--file", action="append", default=[], help="LABEL=ROWS=PATH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--idle-connections", type=int, default=10000)
    parser.add_argument("--only", default="http,upload,ingest,idle,ceiling")
    args = parser.parse_args()
    args.files, args.rows = [], {}
    for spec in args.file:
        label, rows, path = spec.split("=", 2)
        args.files.append((label, path))
        args.rows[label] = int(rows)
    bench = Bench(args)
    bench.results["machine_before"] = machine()
    started = time.monotonic()
    steps = {"http": bench.http_scenarios, "upload": bench.upload_scenarios, "ingest": bench.ingest_scenarios,
             "idle": bench.idle_scenario, "ceiling": bench.sqlite_ceiling}
    for step in filter(None, args.only.split(",")):
        try:
            steps[step]()
        except Exception as error:  # keep going: a broken scenario is reported, not fatal
            log(f"{step} failed: {error}")
            bench.results["notes"].append(f"{step} failed: {error}")
    bench.results["machine_after"] = machine()
    bench.results["duration_s"] = time.monotonic() - started
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(bench.results, handle, indent=1)
    from report import write_report
    write_report(bench.results, args, args.results)
    log(f"done in {bench.results['duration_s']:.0f} s; report in {args.results}")


if __name__ == "__main__":
    main()
