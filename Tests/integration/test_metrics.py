"""GET /metrics: Prometheus' text format as promtool accepts it, counters that move with what
the server does, and admins only once access control is on."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import access_support as access
import reference
import support


def _samples(text: str) -> dict[str, float]:
    """name{labels} → value of every sample line."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def _scrape(server: support.Server, *args: str) -> str:
    response = support.get(server, "/metrics", *args)
    assert response.status == 200, (response.status, response.body[:300])
    assert response.headers.get("content-type", "").startswith("text/plain; version=0.0.4"), response.headers
    return response.body.decode()


def test_the_exposition_passes_promtool_and_its_counters_follow_the_traffic(fresh_server, seed):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/deps.sh test installs it)")
    before = _samples(_scrape(fresh_server))
    for _ in range(3):
        assert support.get(fresh_server, "/api/report/summary?region=IN").status == 200
    [upload] = support.uploads_of(support.upload(fresh_server, seed / "usa.csv"))
    assert support.get(fresh_server, "/api/report/summary?from=nonsense").status == 400
    text = _scrape(fresh_server)
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    after = _samples(text)

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    summary = 'sales_portal_http_requests_total{method="GET",route="/api/report/summary",status="200"}'
    assert delta(summary) == 3
    assert delta('sales_portal_http_requests_total{method="GET",route="/api/report/summary",status="400"}') == 1
    assert delta('sales_portal_http_request_duration_seconds_count{method="GET",route="/api/report/summary"}') == 4
    assert delta('sales_portal_uploads_total{status="loaded"}') == 1
    assert delta('sales_portal_rows_total{outcome="loaded"}') == upload["rows"]["loaded"] == 291
    assert delta('sales_portal_load_duration_seconds_count') == 1
    assert delta('sales_portal_http_request_body_bytes_total') >= (seed / "usa.csv").stat().st_size
    # Three equal questions: computed once, then answered from the cache.
    assert delta('sales_portal_report_cache_requests_total{result="hit"}') >= 1
    assert after["sales_portal_resident_memory_bytes"] > 1_000_000
    assert after["sales_portal_open_connections"] >= 1
    assert re.search(r'^sales_portal_http_request_duration_seconds_bucket\{method="GET",route="/api/report/summary",le="\+Inf"\} ',
                     text, re.M)


def test_metrics_are_for_admins_once_access_control_is_on():
    site = access.Site.create(access.local_auth(), prefix="metrics")
    try:
        admin = site.add_user("root", "admin")
        viewer = site.add_user("ina", "viewer", ["IN"])
        server = site.start()
        assert support.get(server, "/metrics").status == 401
        assert support.get(server, "/metrics", *access.bearer(viewer.token)).status == 403
        text = _scrape(server, *access.bearer(admin.token))
        samples = _samples(text)
        # The refused scrapes are counted too, by their status.
        assert samples['sales_portal_http_requests_total{method="GET",route="/metrics",status="401"}'] == 1
        assert samples['sales_portal_http_requests_total{method="GET",route="/metrics",status="403"}'] == 1
    finally:
        site.stop_all()


def _server_with(tmp_name: str, change) -> support.Server:
    root = Path(tempfile.mkdtemp(prefix=f"sales-portal-it-{tmp_name}-"))
    (root / "data").mkdir()
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    change(config)
    (root / "config.json").write_text(json.dumps(config))
    return support.Server(data_dir=root / "data", config=root / "config.json").start()


def test_uploads_the_server_refuses_are_counted_by_their_route_and_status():
    def one_upload_per_address(config):
        config["server"]["limits"]["maxUploadsPerClient"] = 1

    server = _server_with("refusals", one_upload_per_address)
    try:
        before = _samples(_scrape(server))
        refused_key = 'sales_portal_http_requests_total{method="POST",route="/api/uploads",status="429"}'
        # An upload in progress: its head and part of its body, the rest never sent.
        body, content_type = support.multipart("UK.csv", support.sales_csv(50).encode())
        held = support.connect(server)
        held.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                      f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body[:200])
        support.wait_for("the held upload to count", lambda: _samples(_scrape(server))
                         .get("sales_portal_uploads_in_progress", 0) >= 1, timeout=30)
        second = support.upload(server, support.seed_dir() / "usa.csv")
        assert second.status == 429, (second.status, second.body[:300])
        assert support.problem(second)[0] == "too_many_uploads"
        after = _samples(_scrape(server))
        assert after.get(refused_key, 0) - before.get(refused_key, 0) == 1
        assert after['sales_portal_http_request_duration_seconds_count{method="POST",route="/api/uploads"}'] \
            - before.get('sales_portal_http_request_duration_seconds_count{method="POST",route="/api/uploads"}', 0) == 1
        held.close()
    finally:
        support.stop_and_check(server)


def test_with_metrics_off_there_is_no_metrics_route_and_the_portal_still_answers(seed):
    def metrics_off(config):
        config["server"]["metrics"] = False

    server = _server_with("no-metrics", metrics_off)
    try:
        assert support.get(server, "/metrics").status == 404
        assert support.get(server, "/healthz").status == 200
        [upload] = support.uploads_of(support.upload(server, seed / "usa.csv"))
        assert upload["rows"]["loaded"] == 291
        assert support.summary(server, region="USA") == reference.summary([reference.load_file(str(seed / "usa.csv"))])
    finally:
        support.stop_and_check(server)
