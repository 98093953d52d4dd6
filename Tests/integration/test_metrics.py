"""GET /metrics: Prometheus' text format as promtool accepts it, counters that move with what
the server does, and admins only once access control is on."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import access_support as access
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
