"""gcp mode refuses to start, with a message that says why, when it cannot work: no
project, or a Cloud Storage endpoint that does not answer. Needs no emulator."""
from __future__ import annotations

import os
import socket
import subprocess

import gcp_support
import support


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("STORAGE_EMULATOR_HOST", "BIGQUERY_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")}
    environment.update(env)
    command = [str(support.binary_path()), "serve", "--port", "0", "--data-dir", str(tmp_path), *args]
    return subprocess.run(command, env=environment, cwd=support.REPO_ROOT, capture_output=True, timeout=90)


def test_gcp_mode_without_a_project_is_refused(tmp_path):
    done = _serve(tmp_path, {"SALES_PORTAL_MODE": "gcp"})
    assert done.returncode != 0
    assert b"gcp.project" in done.stderr
    assert b"listening on" not in done.stdout


def test_unreachable_storage_endpoint_stops_the_start_with_the_bucket_and_the_address(tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    done = _serve(tmp_path, {"STORAGE_EMULATOR_HOST": endpoint}, "--config", str(gcp_support.EMULATOR_CONFIG))
    assert done.returncode == 2, done.stderr
    message = done.stderr.decode()
    assert "sales-uploads" in message and endpoint in message, message
    assert b"listening on" not in done.stdout
