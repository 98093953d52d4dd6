"""An expensive report question does not hold a query thread for long: past
server.queryTimeoutMs it is stopped and answered 503 query_timeout with Retry-After, while
cheap questions and health checks go on being answered. In SQLite the statement is
interrupted; in BigQuery the job is cancelled (jobs.cancel), checked on the stand-in, which
keeps matching jobs running as BigQuery answers a job that has not finished."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gcp_support
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


@gcp_support.requires_emulators
def test_a_bigquery_question_over_its_budget_is_cancelled_and_answered_503(seed):
    standin = gcp_support.BIGQUERY_HOST  # the stand-in in front of the emulator
    place = gcp_support.Place("qtimeout")
    # Lists of invoices on this dataset (their SQL pages with @row_offset) run a minute.
    rule = {"match": rf"{place.dataset}\b[\s\S]*@row_offset", "seconds": 60}
    try:
        server = place.start(server_settings={"queryTimeoutMs": 1500})
        [loaded] = support.uploads_of(support.upload(server, seed / "IN.csv"))
        assert loaded["status"] == "loaded", loaded
        assert support.curl(f"{standin}/standin/slow-queries", "-X", "PUT", "--data", json.dumps(rule)).status == 200
        # A page no one asked for before: past 1.5 s the question is given up.
        slow = support.get(server, "/api/report/invoices?page=2&page_size=7")
        assert slow.status == 503, (slow.status, slow.body[:300])
        assert slow.json()["error"] == "query_timeout", slow.body
        assert slow.headers.get("retry-after") == "5", slow.headers
        # Its job was cancelled, and no job the rule slowed down is left running.
        state = support.curl(f"{standin}/standin/slow-queries").json()
        assert state["cancelled"] and not state["running"], state
        # Questions the rule does not match are answered meanwhile, and right.
        summary = support.get(server, "/api/report/summary")
        assert summary.status == 200, (summary.status, summary.body[:300])
        assert summary.json()["orders"] > 0, summary.body
    finally:
        support.curl(f"{standin}/standin/slow-queries", "-X", "DELETE")
        place.stop_all()
