"""`sales-portal check`: a configuration is checked before it is served, and what is wrong is
said in plain words with the fix, with exit status 1 (0 when nothing is wrong)."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import gcp_support
import support


def _check(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
           command: str = "check") -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("STORAGE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "PORT")}
    environment.update(env or {})
    return subprocess.run([str(support.binary_path()), *command.split(), *args], env=environment,
                          cwd=support.REPO_ROOT, capture_output=True, text=True, input=stdin, timeout=90)


def _line(done: subprocess.CompletedProcess, start: str) -> str:
    found = [line for line in done.stdout.splitlines() if line.startswith(start)]
    assert found, f"no line starting {start!r} in:\n{done.stdout}{done.stderr}"
    return found[0]


def test_a_fresh_embedded_setup_passes_every_check(tmp_path):
    done = _check("--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for subject in ("configuration", "data folder", "object store", "warehouse", "access", "pages"):
        assert _line(done, "ok       " + subject + ":")
    assert str(tmp_path) in _line(done, "ok       warehouse:")
    assert done.stdout.splitlines()[-1] == "All checks passed."


def test_a_data_folder_that_cannot_be_made_is_a_problem(tmp_path):
    in_the_way = tmp_path / "data"
    in_the_way.write_text("a file where the data folder should be\n")
    done = _check("--data-dir", str(in_the_way))
    assert done.returncode == 1, done.stdout + done.stderr
    assert str(in_the_way) in _line(done, "PROBLEM  data folder:")
    assert done.stdout.splitlines()[-1] == "1 problem found: fix it before serving."


def test_local_sign_in_without_a_users_file_says_how_to_add_an_admin(tmp_path):
    done = _check("--data-dir", str(tmp_path), env={"SALES_PORTAL_AUTH_MODE": "local"})
    assert done.returncode == 1, done.stdout + done.stderr
    line = _line(done, "PROBLEM  users file:")
    assert "does not exist" in line and "users add" in line and "--role admin" in line


def test_a_users_file_others_can_read_is_a_problem_until_it_is_private(tmp_path):
    env = {"SALES_PORTAL_AUTH_MODE": "local"}
    added = _check("ada", "--role", "admin", "--data-dir", str(tmp_path), env=env,
                   stdin="a long enough password 42\n", command="users add")
    assert added.returncode == 0, added.stdout + added.stderr
    users = tmp_path / "users.json"
    users.chmod(0o644)
    done = _check("--data-dir", str(tmp_path), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    line = _line(done, "PROBLEM  users file:")
    assert f"chmod 600 {users}" in line and "644" in line
    assert "1 user(s), 1 admin(s)" in _line(done, "ok       users file:")
    users.chmod(0o600)
    done = _check("--data-dir", str(tmp_path), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PROBLEM" not in done.stdout


def test_a_missing_pages_folder_is_a_warning_not_a_problem(tmp_path):
    done = _check("--data-dir", str(tmp_path), env={"SALES_PORTAL_PUBLIC_DIR": str(tmp_path / "nowhere")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "server.publicDir" in _line(done, "warning  pages:")
    assert done.stdout.splitlines()[-1] == "No problem found (1 warning)."


def test_a_configuration_that_cannot_be_read_exits_2(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"server": {"prot": 8080}}')
    done = _check("--config", str(config))
    assert done.returncode == 2
    assert "prot" in done.stderr


def test_version_is_printed():
    done = _check(command="--version")
    assert done.returncode == 0
    assert done.stdout.startswith("sales-portal ") and done.stdout.strip().split(" ")[1][0].isdigit()


def test_every_command_has_help_with_examples():
    for command in ("", "serve", "check", "ingest", "users", "users add", "users list", "users remove", "tokens",
                    "tokens create", "tokens revoke"):
        done = _check(command=f"help {command}".strip())
        assert done.returncode == 0, done.stderr
        assert "Examples:" in done.stdout and "sales-portal" in done.stdout, command


def test_port_from_the_environment_listens_on_every_interface(tmp_path):
    """Cloud Run's contract: $PORT, on all interfaces; SIGTERM stops it cleanly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Every interface needs sign-in (auth.mode none is refused there).
    added = _check("ada", "--role", "admin", "--data-dir", str(tmp_path), env={"SALES_PORTAL_AUTH_MODE": "local"},
                   stdin="a long enough password 42\n", command="users add")
    assert added.returncode == 0, added.stdout + added.stderr
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SALES_PORTAL_")}
    environment.update({"PORT": str(port), "SALES_PORTAL_AUTH_MODE": "local"})
    process = subprocess.Popen([str(support.binary_path()), "serve", "--data-dir", str(tmp_path)], env=environment,
                               cwd=support.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"listening on http://0.0.0.0:{port}", line
        status = support.curl(f"http://127.0.0.1:{port}/healthz").status
        assert status == 200
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


@gcp_support.requires_emulators
def test_gcp_mode_reaches_the_bucket_and_the_table_and_names_an_unreachable_one(tmp_path):
    place = gcp_support.Place("check")
    done = _check("--config", str(gcp_support.EMULATOR_CONFIG), "--data-dir", str(tmp_path), env=place.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert place.bucket in _line(done, "ok       object store:")
    assert place.dataset in _line(done, "ok       warehouse:")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    done = _check("--config", str(gcp_support.EMULATOR_CONFIG), "--data-dir", str(tmp_path),
                  env={**place.env, "STORAGE_EMULATOR_HOST": closed})
    assert done.returncode == 1, done.stdout + done.stderr
    assert closed in _line(done, "PROBLEM  storage:")
