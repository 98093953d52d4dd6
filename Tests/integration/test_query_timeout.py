"""An expensive report question does not hold a query thread for long: past
server.queryTimeoutMs it is stopped and answered 503 query_timeout with Retry-After, while
cheap questions and health checks go on being answered."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import support

ROWS = 100_000


def test_a_question_over_its_budget_is_503_query_timeout_and_others_are_served(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    (root / "data").mkdir()
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    config["server"]["queryTimeoutMs"] = 20
    (root / "config.json").write_text(json.dumps(config))
    server = support.Server(data_dir=root / "data", config=root / "config.json").start()
    try:
        path = tmp_path / "UK.csv"
        path.write_text(support.sales_csv(ROWS, first_invoice=400000))
        [loaded] = support.uploads_of(support.upload(server, path, timeout=300))
        assert loaded["status"] == "loaded" and loaded["rows"]["loaded"] == ROWS, loaded

        # A product search through every description and a deep invoice page: far over 20 ms.
        slow = support.get(server, "/api/report/invoices?product=no%20such%20words&page=2000&page_size=50")
        assert slow.status == 503, (slow.status, slow.body[:300])
        assert slow.json()["error"] == "query_timeout", slow.body
        assert slow.headers.get("retry-after") == "5", slow.headers
        # A one-day question and the health check are answered meanwhile, and right.
        day = support.get(server, "/api/report/summary?from=2010-12-01&to=2010-12-01")
        assert day.status == 200, (day.status, day.body[:300])
        assert support.get(server, "/healthz").status == 200
        # A timed-out question is not remembered: asked again it is stopped again, not answered from a cache.
        assert support.get(server, "/api/report/invoices?product=no%20such%20words&page=2000&page_size=50").status == 503
    finally:
        support.stop_and_check(server)
