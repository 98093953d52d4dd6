"""Helpers of the access-control integration tests: configuration files with an `auth`
section, the `users` / `tokens` / `routes` commands, servers in mode local, gcp or iap,
and curl calls with a bearer token, a session cookie or another source address.

Every wait here is bounded; nothing in this file can hang a test run."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import support

COMMAND_TIMEOUT = 60.0
EMULATOR_CONFIG = support.REPO_ROOT / "Config" / "emulator.json"

ROLES_RANK = {"anonymous": 0, "viewer": 1, "uploader": 2, "admin": 3}
ACCESS_RANK = {"public": 0, "viewer": 1, "uploader": 2, "admin": 3}


# --- the binary ------------------------------------------------------------------

def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs `sales-portal ARGS…` from the repository root; text output."""
    environment = {**os.environ, **env} if env else None
    return subprocess.run([str(support.binary_path()), *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout, cwd=support.REPO_ROOT,
                          env=environment)


def binary_has_access_control() -> bool:
    """True when the binary has the `users` command (not the default `serve` answering for it)."""
    if not support.binary_path().exists():
        return False
    try:
        done = run("users", "--help", timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = done.stdout + done.stderr
    return done.returncode == 0 and "add" in text and "Serve the portal" not in text


@pytest.fixture(scope="session", autouse=False)
def access_binary():
    """Fails (never skips) when the binary under test has no access control."""
    if not binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command: build the access-control version")


# --- configuration -----------------------------------------------------------------

def merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` laid over it, objects merged key by key."""
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def write_config(directory: Path, overrides: dict, gcp: bool = False, name: str = "config.json") -> Path:
    """Config/default.json (and Config/emulator.json for gcp mode) with `overrides` laid over it."""
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    if gcp:
        config = merge(config, json.loads(EMULATOR_CONFIG.read_text()))
    config = merge(config, overrides)
    path = directory / name
    path.write_text(json.dumps(config, indent=2))
    return path


def local_auth(**settings) -> dict:
    """Config overrides for mode local; generous throttling unless `settings` say otherwise."""
    auth = {"mode": "local", "maxFailuresPerAddress": 1000, "maxFailuresPerUser": 1000}
    auth.update(settings)
    return {"auth": auth}


# --- a place for one server: its config, data folder and users ----------------------

@dataclass
class User:
    name: str
    role: str                      # viewer | uploader | admin
    regions: list[str]             # ["IN"] or ["*"]
    password: str | None = None
    token: str | None = None

    def may_see(self, region: str) -> bool:
        return "*" in self.regions or region.upper() in self.regions


@dataclass
class Site:
    """A data folder and a config file, the users made with the command line, and the
    servers started on them."""
    root: Path
    config: Path
    data_dir: Path
    env: dict[str, str] | None = None
    users: dict[str, User] = field(default_factory=dict)
    servers: list[support.Server] = field(default_factory=list)

    @classmethod
    def create(cls, overrides: dict, gcp: bool = False, env: dict[str, str] | None = None,
               prefix: str = "access") -> "Site":
        root = Path(tempfile.mkdtemp(prefix=f"sales-portal-{prefix}-"))
        data = root / "data"
        data.mkdir()
        config = write_config(root, overrides, gcp=gcp)
        return cls(root=root, config=config, data_dir=data, env=env)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = run(*args, "--config", str(self.config), "--data-dir", str(self.data_dir), stdin=stdin, env=self.env)
        if check:
            assert done.returncode == 0, f"sales-portal {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return done

    def add_user(self, name: str, role: str, regions: list[str] | None = None, password: str | None = None,
                 token_label: str | None = "main") -> User:
        regions = regions or ["*"]
        args = ["users", "add", name, "--role", role, "--regions", ",".join(regions)]
        if password is not None:
            args.append("--password-stdin")
        self.cli(*args, stdin=(password + "\n") if password is not None else None)
        user = User(name=name, role=role, regions=regions, password=support.used_secret(password))
        if token_label is not None:
            user.token = self.create_token(name, token_label)
        self.users[name] = user
        return user

    def create_token(self, name: str, label: str) -> str:
        done = self.cli("tokens", "create", name, "--name", label)
        lines = done.stdout.splitlines()
        assert len(lines) == 1 and lines[0].strip() and " " not in lines[0].strip(), \
            f"`tokens create` must print the token alone on one line, printed {done.stdout!r}"
        return support.used_secret(lines[0].strip())

    def routes(self) -> list[dict]:
        done = self.cli("routes")
        table = json.loads(done.stdout)
        assert isinstance(table, list) and table, done.stdout
        return table

    def users_file(self) -> Path:
        return self.data_dir / "users.json"

    def start(self, data_dir: Path | None = None) -> support.Server:
        server = support.Server(data_dir=data_dir or self.data_dir, config=self.config, env=self.env).start()
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        failures = []
        for server in self.servers:
            if server.process is None or server.process.poll() is not None:
                continue
            code = server.stop()
            if code != 0:
                failures.append(f"exit {code}: {server.stderr()}")
        if not failures:
            shutil.rmtree(self.root, ignore_errors=True)
        assert not failures, failures


# --- requests ------------------------------------------------------------------------

def bearer(token: str | None) -> tuple[str, ...]:
    return ("-H", f"Authorization: Bearer {token}") if token else ()


def cookie_args(cookie: str | None) -> tuple[str, ...]:
    return ("-H", f"Cookie: {cookie}") if cookie else ()


def origin_of(server: support.Server) -> str:
    return f"http://{server.host}:{server.port}"


def set_cookies(response: support.Response) -> list[str]:
    """Every Set-Cookie value of a response (curl's header dump kept them all)."""
    return getattr(response, "set_cookies", None) or ([response.headers["set-cookie"]]
                                                      if "set-cookie" in response.headers else [])


def curl(url: str, *args: str, timeout: float = support.CURL_TIMEOUT) -> support.Response:
    """support.curl, keeping every Set-Cookie header of the (last) response in `.set_cookies`."""
    with tempfile.TemporaryDirectory() as tmp:
        head = Path(tmp, "head")
        response = support.curl(url, "--dump-header", str(head), *args, timeout=timeout)
        # curl writes the headers to the last --dump-header it was given: ours wins over support's.
        text = head.read_text(errors="replace") if head.exists() else ""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    cookies: list[str] = []
    if blocks:
        response.headers = support._parse_header_dump(text)
        for line in blocks[-1].splitlines()[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "set-cookie":
                cookies.append(value.strip())
    response.set_cookies = cookies  # type: ignore[attr-defined]
    return response


def login(server: support.Server, username: str, password: str, next_path: str | None = None,
          source: str | None = None, json_answer: bool = False, extra: tuple[str, ...] = ()) -> support.Response:
    """POST /login as a form; from `source` (a loopback address) when given."""
    support.used_secret(password)
    args = ["--data-urlencode", f"username={username}", "--data-urlencode", f"password={password}"]
    if next_path is not None:
        args += ["--data-urlencode", f"next={next_path}"]
    if source:
        args += ["--interface", source]
    if json_answer:
        args += ["-H", "Accept: application/json"]
    return curl(server.url("/login"), *args, *extra)


def session_set_cookie(response: support.Response, name: str = "sp_session") -> str:
    """The Set-Cookie value for the session cookie; "" when there is none."""
    for value in set_cookies(response):
        if value.split("=", 1)[0].strip() == name:
            return value
    return ""


def session_cookie(response: support.Response, name: str = "sp_session") -> str:
    """`name=value` of the session cookie a response sets (fails when none is set)."""
    header = session_set_cookie(response, name)
    first = header.split(";", 1)[0].strip()
    assert first.startswith(name + "=") and len(first) > len(name) + 1, \
        f"no {name} cookie in Set-Cookie: {set_cookies(response)!r} (status {response.status})"
    support.used_secret(first.split("=", 1)[1])
    return first


def session_cookie_value(response: support.Response, name: str = "sp_session") -> str:
    """The value a response gives the session cookie; "" when it sets none or clears it."""
    first = session_set_cookie(response, name).split(";", 1)[0].strip()
    return first[len(name) + 1:] if first.startswith(name + "=") else ""


def cookie_attributes(header: str) -> dict[str, str]:
    """The attributes of one Set-Cookie value, lower-case names (flags map to "")."""
    parts = [p.strip() for p in header.split(";")[1:] if p.strip()]
    result = {}
    for part in parts:
        name, _, value = part.partition("=")
        result[name.strip().lower()] = value.strip()
    return result


def signed_in(server: support.Server, user: User) -> tuple[str, str]:
    """(cookie, csrf token) of a fresh session of `user`."""
    response = login(server, user.name, user.password or "", json_answer=True)
    assert response.status == 200, (response.status, response.body)
    cookie = session_cookie(response)
    me = support.get(server, "/api/me", *cookie_args(cookie))
    assert me.status == 200, (me.status, me.body)
    token = me.json().get("csrf")
    assert isinstance(token, str) and token, me.body
    support.used_secret(cookie.split("=", 1)[-1])
    return cookie, support.used_secret(token)


def upload_as(server: support.Server, token: str | None, *files: Path, region: str | None = None,
              extra: tuple[str, ...] = ()) -> support.Response:
    return support.upload(server, *files, region=region, extra=(*bearer(token), *extra), timeout=120)


def history_as(server: support.Server, token: str) -> list[dict]:
    response = support.get(server, "/api/uploads?limit=1000", *bearer(token))
    assert response.status == 200, (response.status, response.body)
    return response.json()["uploads"]


def summary_as(server: support.Server, token: str, **filters: str) -> dict:
    query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
    response = support.get(server, "/api/report/summary" + ("?" + query if query else ""), *bearer(token))
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    assert isinstance(body, dict) and set(body) == support.SUMMARY_KEYS, body
    return {k: body[k] for k in ("revenue", "orders", "cancellations", "units", "customers")}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique_csv(directory: Path, name: str, first_invoice: int, rows: int = 12) -> tuple[Path, bytes]:
    """A small valid sales file named `name` whose invoices start at `first_invoice`."""
    text = support.sales_csv(rows, first_invoice=first_invoice)
    path = directory / name
    path.write_text(text, newline="")
    return path, path.read_bytes()


def nothing_stored(server: support.Server, admin_token: str, content: bytes) -> list[str]:
    """Problems if an upload of `content` left a trace: a history entry, or the bytes on disk."""
    problems = []
    digest = sha256(content)
    for record in history_as(server, admin_token):
        if record.get("sha256") == digest:
            problems.append(f"the history has an upload of it: {record}")
    # The spool and (embedded) object store live under the data folder.
    found = support.files_with_content(server.data_dir, content)
    if found:
        problems.append(f"its bytes were stored: {[str(p) for p in found]}")
    bucket = (server.env or {}).get("SALES_PORTAL_BUCKET")
    if bucket:
        problems += [f"its bytes were stored in gs://{bucket}/{name}" for name in objects_with_content(bucket, content)]
    return problems


def objects_with_content(bucket: str, content: bytes) -> list[str]:
    """Names of the objects in a Cloud Storage (emulator) bucket whose bytes are `content`."""
    import base64
    import gcp_support
    from google.api_core.exceptions import NotFound
    digest = base64.b64encode(hashlib.md5(content).digest()).decode()
    try:
        blobs = list(gcp_support.storage_client().list_blobs(bucket))
    except NotFound:
        return []
    return [b.name for b in blobs if b.size == len(content) and (b.md5_hash in (None, digest))
            and b.download_as_bytes() == content]


def gcp_env(prefix: str) -> dict[str, str]:
    """Environment for a gcp-mode server and its command line: a fresh bucket and dataset
    on the emulators."""
    import gcp_support
    bucket, dataset = gcp_support.unique_names(prefix)
    return {"SALES_PORTAL_BUCKET": bucket, "SALES_PORTAL_DATASET": dataset,
            "STORAGE_EMULATOR_HOST": gcp_support.STORAGE_HOST, "BIGQUERY_EMULATOR_HOST": gcp_support.BIGQUERY_HOST}


# Polls until a condition holds (one helper for every test module).
wait_for = support.wait_for


def access_log_lines(server: support.Server, method: str, path: str) -> list[str]:
    """The access-log lines of `method path`: `METHOD PATH STATUS …` (as text, or a JSON line's message)."""
    prefix = f"{method} {path} "
    messages = []
    for line in list(server.stdout_lines):
        if line.startswith("{"):
            entry = json.loads(line)
            line = entry.get("message", "") if "httpRequest" in entry else ""
        if line.startswith(prefix):
            messages.append(line)
    return messages


def requires_emulators_or_fail():
    """gcp-mode tests: skipped without the emulators, except under CI=true where that fails."""
    import gcp_support
    if gcp_support.STORAGE_HOST and gcp_support.BIGQUERY_HOST:
        return
    message = ("gcp mode needs the emulators: set STORAGE_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST "
               "(scripts/test.sh does, after scripts/emulators.sh start)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
