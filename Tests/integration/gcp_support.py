"""Helpers of the gcp-mode integration tests: servers started with Config/emulator.json
against the Cloud Storage and BigQuery emulators, each test module on its own bucket and
dataset, and Google's own Python clients to read back what the server wrote.

The tests run only when STORAGE_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST are set
(scripts/test.sh sets them after `scripts/emulators.sh start`)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import support

PROJECT = "test-project"
EMULATOR_CONFIG = support.REPO_ROOT / "Config" / "emulator.json"
STORAGE_HOST = os.environ.get("STORAGE_EMULATOR_HOST", "")
BIGQUERY_HOST = os.environ.get("BIGQUERY_EMULATOR_HOST", "")

requires_emulators = pytest.mark.skipif(
    not (STORAGE_HOST and BIGQUERY_HOST),
    reason="gcp mode needs the emulators: run scripts/emulators.sh start and set "
           "STORAGE_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST (scripts/test.sh does both)")


def _endpoint(value: str) -> str:
    return value if value.startswith(("http://", "https://")) else "http://" + value


def unique_names(prefix: str) -> tuple[str, str]:
    """A fresh (bucket, dataset) pair, so that tests never see each other's rows."""
    token = uuid.uuid4().hex[:10]
    return f"it-{prefix}-{token}".replace("_", "-"), f"it_{prefix}_{token}".replace("-", "_")


class Place:
    """One bucket and dataset, and the servers started on them."""

    def __init__(self, prefix: str):
        self.bucket, self.dataset = unique_names(prefix)
        self.root = Path(tempfile.mkdtemp(prefix=f"sales-portal-gcp-{prefix}-"))
        self.servers: list[support.Server] = []

    @property
    def env(self) -> dict[str, str]:
        return {"SALES_PORTAL_BUCKET": self.bucket, "SALES_PORTAL_DATASET": self.dataset,
                "STORAGE_EMULATOR_HOST": STORAGE_HOST, "BIGQUERY_EMULATOR_HOST": BIGQUERY_HOST}

    def start(self, server_settings: dict | None = None, **gcp_settings) -> support.Server:
        """A server in gcp mode on this bucket and dataset, with its own spool folder;
        `gcp_settings` (e.g. loadBatchRows=2000) are laid over Config/emulator.json's gcp section,
        `server_settings` (e.g. {"queryTimeoutMs": 1000}) over its server section."""
        data = self.root / f"replica-{len(self.servers)}"
        data.mkdir()
        config = EMULATOR_CONFIG
        if gcp_settings or server_settings:
            tree = json.loads(Path(EMULATOR_CONFIG).read_text())
            tree.setdefault("gcp", {}).update(gcp_settings)
            tree.setdefault("server", {}).update(server_settings or {})
            config = self.root / f"config-{len(self.servers)}.json"
            config.write_text(json.dumps(tree))
        server = support.Server(data_dir=data, config=config, env=self.env).start()
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        """Stops every server with SIGTERM; each must exit 0 (a killed one is skipped)."""
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


def storage_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": _endpoint(STORAGE_HOST)})


def bigquery_client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": _endpoint(BIGQUERY_HOST)})


def download(uri: str) -> bytes:
    """The bytes of a gs:// object, through google-cloud-storage."""
    assert uri.startswith("gs://"), uri
    bucket, _, name = uri[len("gs://"):].partition("/")
    return storage_client().bucket(bucket).blob(name).download_as_bytes()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def query(sql: str) -> list[dict]:
    """Rows of a query, through google-cloud-bigquery."""
    return [dict(row.items()) for row in bigquery_client().query(sql).result()]


def view(place: Place) -> str:
    return f"`{PROJECT}.{place.dataset}.orders_report`"


def table(place: Place) -> str:
    return f"`{PROJECT}.{place.dataset}.orders`"


# Polls until a condition holds (one helper for every test module).
wait_for = support.wait_for
