"""Helpers of the integration tests: start the real `sales-portal` executable,
talk to it with the `curl` command line and, where curl can't, raw sockets.

Every wait here is bounded; nothing in this file can hang a test run.
"""
from __future__ import annotations

import copy
import json
import os
import queue
import resource
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CURL_TIMEOUT = 60.0
LISTENING = re.compile(r"listening on http://(\S+):(\d+)")
# Servers log as JSON lines unless a test asks for text (server.logFormat in its config or the
# `log_format` of its Server): the suite checks at the end that every line of every server in
# JSON mode is a Cloud Logging entry (conftest.py).
SUITE_LOG_FORMAT = os.environ.get("SALES_PORTAL_TEST_LOG_FORMAT", "json")


def binary_path() -> Path:
    """The executable under test: $SALES_PORTAL_BIN, else the debug build of this repo."""
    path = Path(os.environ.get("SALES_PORTAL_BIN", ".build/debug/sales-portal"))
    return path if path.is_absolute() else REPO_ROOT / path


def seed_dir() -> Path:
    """The real sample files: $SEED_DIR, else ../shared/data/seed beside the repo."""
    path = Path(os.environ.get("SEED_DIR", "../shared/data/seed"))
    return (path if path.is_absolute() else REPO_ROOT / path).resolve()


# --- configuration ---------------------------------------------------------------
# THE SHAPE OF THE CONFIG FILE LIVES HERE, and only here.
# The server reads `--config FILE` (JSON, every key listed in Config/default.json);
# a test's config is a copy of it with one setting changed.
DEFAULT_CONFIG = REPO_ROOT / "Config" / "default.json"
ASSUMED_BODY_LIMIT_PATH = ("server", "limits", "maxUploadBytes")


def _set_everywhere(tree, key: str, value) -> int:
    """Sets `key` to `value` in every object of `tree` that has it; returns how many."""
    count = 0
    if isinstance(tree, dict):
        for name in list(tree):
            if name == key:
                tree[name] = value
                count += 1
            else:
                count += _set_everywhere(tree[name], key, value)
    elif isinstance(tree, list):
        for item in tree:
            count += _set_everywhere(item, key, value)
    return count


def config_with_body_limit(directory: Path, max_body_bytes: int) -> Path:
    """A config file whose upload body limit is `max_body_bytes`."""
    key = ASSUMED_BODY_LIMIT_PATH[-1]
    config: dict = {}
    if DEFAULT_CONFIG.exists():
        config = copy.deepcopy(json.loads(DEFAULT_CONFIG.read_text()))
    if _set_everywhere(config, key, max_body_bytes) == 0:
        node = config
        for name in ASSUMED_BODY_LIMIT_PATH[:-1]:
            node = node.setdefault(name, {})
        node[key] = max_body_bytes
    path = directory / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


# --- the server process ----------------------------------------------------------

# Every server the run started and every secret the tests used (passwords, tokens, session
# cookies, CSRF tokens, signed assertions): conftest.py reads all the servers' logs at the end
# for any of the secrets.
STARTED_SERVERS: list["Server"] = []
SECRETS_USED: set[str] = set()


def used_secret(value: str | None) -> str | None:
    """Notes `value` as a secret no log may ever hold (short values aside: they would match by
    chance); returns it."""
    if value and len(value) >= 8:
        SECRETS_USED.add(value)
    return value


@dataclass
class Server:
    """One running `sales-portal serve` on a free port with its own data folder."""
    data_dir: Path
    config: Path | None = None
    process: subprocess.Popen | None = None
    host: str = ""
    port: int = 0
    log_path: Path | None = None
    stdout_lines: list[str] = field(default_factory=list)
    # A lower limit of open files for the server process (RLIMIT_NOFILE), when set.
    max_open_files: int | None = None
    env: dict[str, str] | None = None
    """Environment variables added to this process's for the server (e.g. a bucket per test)."""
    log_format: str | None = None
    """`text` or `json`; None: the config file's server.logFormat, else SUITE_LOG_FORMAT."""
    log_format_used: str = ""
    stderr_text: str = ""
    """Standard error as it was when the server was stopped (its folder may be gone since)."""

    def _chosen_log_format(self) -> str:
        if self.env and "SALES_PORTAL_LOG_FORMAT" in self.env:
            return self.env["SALES_PORTAL_LOG_FORMAT"]
        if self.log_format is not None:
            return self.log_format
        if self.config is not None:
            try:
                configured = json.loads(Path(self.config).read_text()).get("server", {}).get("logFormat")
            except (OSError, ValueError, AttributeError):
                configured = None
            if isinstance(configured, str):
                return configured
        return SUITE_LOG_FORMAT

    def start(self) -> "Server":
        binary = binary_path()
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist: build it first (swift build) or set SALES_PORTAL_BIN")
        command = [str(binary), "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(self.data_dir)]
        if self.config is not None:
            command += ["--config", str(self.config)]
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".stderr.log")
        log = open(self.log_path, "wb")
        STARTED_SERVERS.append(self)
        # Run from the repository root, where the server finds Public/ (and Config/) by default.
        limit = self.max_open_files

        def limit_open_files() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.log_format_used = self._chosen_log_format()
        environment = {**os.environ, **(self.env or {}), "SALES_PORTAL_LOG_FORMAT": self.log_format_used}
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=log, cwd=REPO_ROOT, env=environment, preexec_fn=limit_open_files)
        log.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for raw in self.process.stdout:
                text = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(text)
                lines.put(text)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise RuntimeError(f"no 'listening on' line within {START_TIMEOUT}s; stderr:\n{self.stderr()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait(timeout=STOP_TIMEOUT)
                raise RuntimeError(f"server exited with {code} before listening; stderr:\n{self.stderr()}")
            if match := LISTENING.search(line):
                self.host, self.port = match.group(1), int(match.group(2))
                return self

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stderr(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed and -9 if it does not stop in time)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self.keep_stderr()
        return code

    def keep_stderr(self) -> None:
        """Keeps standard error in memory, for the checks of the whole run's logs."""
        try:
            if self.log_path is not None and self.log_path.exists():
                self.stderr_text = self.log_path.read_text(errors="replace")
        except OSError:
            pass

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.keep_stderr()


def start_server(config_max_body: int | None = None, log_format: str | None = None) -> Server:
    """A server with a new data folder (and a config file when a limit is given)."""
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    data = root / "data"
    data.mkdir()
    config = config_with_body_limit(root, config_max_body) if config_max_body is not None else None
    return Server(data_dir=data, config=config, log_format=log_format).start()


def stop_and_check(server: Server) -> None:
    """Stops `server` with SIGTERM and asserts that it exited with 0."""
    code = server.stop()
    assert code == 0, f"server exited with {code} on SIGTERM; stderr:\n{server.stderr()}"
    # The folder made for this server (kept when the stop failed, to look at); never a shared temp folder.
    if server.data_dir.parent.resolve() not in (Path(tempfile.gettempdir()).resolve(), Path("/")):
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


# --- curl --------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    stderr: str = ""

    def json(self):
        return json.loads(self.body)


def _parse_header_dump(text: str) -> dict[str, str]:
    """The headers of the last response in a `curl -D` dump (lower-case names)."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    headers: dict[str, str] = {}
    if blocks:
        for line in blocks[-1].splitlines()[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers


def curl(url: str, *args: str, timeout: float = CURL_TIMEOUT) -> Response:
    """Runs `curl URL ARGS…`; the status, headers and body of the (last) response."""
    with tempfile.TemporaryDirectory() as tmp:
        body_path, head_path = Path(tmp, "body"), Path(tmp, "head")
        command = ["curl", "-sS", "--max-time", str(timeout), "-o", str(body_path), "-D", str(head_path),
                   "-w", "%{http_code}", *args, url]
        done = subprocess.run(command, capture_output=True, timeout=timeout + 10)
        status = int(done.stdout.decode().strip() or 0)
        headers = _parse_header_dump(head_path.read_text(errors="replace")) if head_path.exists() else {}
        body = body_path.read_bytes() if body_path.exists() else b""
        return Response(status, headers, body, done.stderr.decode(errors="replace"))


def get(server: Server, path: str, *args: str) -> Response:
    return curl(server.url(path), *args)


def upload(server: Server, *files: Path | str, region: str | None = None, timeout: float = CURL_TIMEOUT,
           extra: tuple[str, ...] = ()) -> Response:
    """POST /api/uploads with one `file` part per path (and `region` when given)."""
    args: list[str] = []
    for path in files:
        args += ["-F", f"file=@{path}"]
    if region is not None:
        args += ["-F", f"region={region}"]
    return curl(server.url("/api/uploads"), *args, *extra, timeout=timeout)


def uploads_of(response: Response) -> list[dict]:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("uploads"), list), body
    return body["uploads"]


def _error_fields(body) -> tuple[str, str]:
    assert isinstance(body, dict), body
    error, message = body.get("error"), body.get("message")
    assert isinstance(error, str) and error, f"no error code in {body}"
    assert isinstance(message, str) and message, f"no message in {body}"
    return error, message


def problem(response: Response) -> tuple[str, str]:
    """(error code, message) of a malformed request's answer: `{"error": code, "message": …}`
    at the top, nothing else."""
    body = response.json()
    assert isinstance(body, dict) and "uploads" not in body, body
    return _error_fields(body)


def upload_problem(response: Response) -> tuple[str, str]:
    """(error code, message) of an upload of one file that was not loaded: `{"uploads": [result]}`."""
    [result] = uploads_of(response)
    return _error_fields(result)


SUMMARY_KEYS = {"revenue", "orders", "cancellations", "units", "customers", "average_order_value", "filter"}


def summary(server: Server, **filters: str) -> dict:
    """GET /api/report/summary with the given filters (`date_from`/`date_to` → from/to)."""
    names = {"date_from": "from", "date_to": "to"}
    query = urllib.parse.urlencode({names.get(k, k): v for k, v in filters.items() if v is not None})
    response = get(server, "/api/report/summary" + ("?" + query if query else ""))
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    assert isinstance(body, dict) and set(body) == SUMMARY_KEYS, body
    return {k: body[k] for k in ("revenue", "orders", "cancellations", "units", "customers")}


def history(server: Server) -> list[dict]:
    response = get(server, "/api/uploads")
    assert response.status == 200, (response.status, response.body)
    return response.json()["uploads"]


def healthy(server: Server) -> bool:
    return get(server, "/healthz").status == 200


def files_with_content(directory: Path, content: bytes) -> list[Path]:
    """Files under `directory` whose bytes are exactly `content`."""
    found = []
    for path in directory.rglob("*"):
        try:
            if path.is_file() and path.stat().st_size == len(content) and path.read_bytes() == content:
                found.append(path)
        except OSError:
            continue
    return found


# --- raw sockets -------------------------------------------------------------------

def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_head(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str]]:
    """Reads one response head from `sock` (leftover bytes stay in `buffer`)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response head: {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """Reads one full response (Content-Length or chunked framing; 1xx heads skipped)."""
    while True:
        status, headers = read_head(sock, buffer)
        if status >= 200:
            break
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buffer:
                buffer += _recv(sock)
            size_line, _, rest = bytes(buffer).partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            buffer[:] = rest
            while len(buffer) < size + 2:
                buffer += _recv(sock)
            body += buffer[:size]
            buffer[:] = buffer[size + 2:]
            if size == 0:
                return status, headers, bytes(body)
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        buffer += _recv(sock)
    body = bytes(buffer[:length])
    buffer[:] = buffer[length:]
    return status, headers, body


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("connection closed in the middle of a response")
    return chunk


def multipart(file_name: str, content: bytes, boundary: str = "----it-boundary-7MA4YWxk",
              region: str | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body with one `file` part; returns (body, content type)."""
    parts = b""
    if region is not None:
        parts += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"region\"\r\n\r\n{region}\r\n").encode()
    parts += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n"
              f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return parts, f"multipart/form-data; boundary={boundary}"


# --- synthetic files -----------------------------------------------------------------

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def sales_csv(rows: int, first_invoice: int = 700000, country: str = "United Kingdom",
              description: str = "WHITE HANGING HEART T-LIGHT HOLDER") -> str:
    """A valid sales file in the seed's format with `rows` distinct lines (CRLF, no BOM)."""
    lines = [HEADER]
    for i in range(rows):
        invoice = first_invoice + i // 4
        day = 1 + (i // 200) % 28
        lines.append(f"{invoice},{20000 + i % 9000},{description},{1 + i % 12},"
                     f"3/{day}/2011 {8 + i % 10}:{i % 60:02d},{(i % 900) / 100 + 0.29:.2f},"
                     f"{12346 + i % 500},{country}")
    return "\r\n".join(lines) + "\r\n"


def wait_for(what: str, check, timeout: float, every: float = 0.2):
    """Polls `check()` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")
