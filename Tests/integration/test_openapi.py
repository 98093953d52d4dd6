"""The API description at /openapi.json is true of the live server: schemathesis (PyPI) sends
generated requests to every operation, signed in with an API token, and finds no 5xx, no answer
outside its schema, no status it does not list, and no request let through without sign-in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import access_support as access
import support

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_the_description_covers_every_json_route():
    described = json.loads((support.REPO_ROOT / "Public" / "openapi.json").read_text())
    assert described["openapi"].startswith("3.1")
    site = access.Site.create(access.local_auth(), prefix="openapi-routes")
    try:
        routes = site.routes()
    finally:
        site.stop_all()
    api = {(r["method"], r["pattern"]) for r in routes
           if r["kind"] == "api" and "{path...}" not in r["pattern"] and r["pattern"] not in ("/metrics", "/api/events/gcs")}
    listed = {(method.upper(), path) for path, item in described["paths"].items() for method in item if method != "parameters"}
    assert api == listed, f"not described: {sorted(api - listed)}; described but not served: {sorted(listed - api)}"


def test_schemathesis_finds_nothing_wrong(seed, tmp_path):
    site = access.Site.create(access.local_auth(), prefix="openapi")
    try:
        admin = site.add_user("ada", "admin", password="Correct-Horse-Battery-7", token_label="schemathesis")
        server = site.start()
        loaded = access.upload_as(server, admin.token, seed / "IN.csv")
        assert loaded.status == 200, loaded.body
        schema = support.curl(server.url("/openapi.json"))
        assert schema.status == 200 and schema.json()["info"]["title"] == "SalesPortal"
        st = Path(sys.executable).with_name("st")
        done = subprocess.run(
            [str(st), "--config-file", str(CONFIG), "run", server.url("/openapi.json"), "--url", server.url(""),
             # Taking an upload back keeps its record (status `retracted`, who and when) for the
             # trail: reading it afterwards is meant to answer, not the 404 use_after_free expects.
             "--checks", "all", "--exclude-checks", "use_after_free", "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "25"),
             "--header", f"Authorization: Bearer {admin.token}", "--seed", "20261201", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
        report = done.stdout[-6000:] + done.stderr[-2000:]
        assert done.returncode == 0, report
        summary = done.stdout.split("SUMMARY")[-1]
        described = len({(m, p) for p, item in schema.json()["paths"].items() for m in item if m != "parameters"})
        assert f"Tested: {described}" in summary, report
        assert support.healthy(server)
    finally:
        site.stop_all()
