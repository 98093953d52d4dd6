"""One client asking many expensive questions at once gets only server.limits.maxQueriesPerClient
of them computed at a time (the others 429 too_many_queries with Retry-After); another address
is answered meanwhile, and answers already computed are served to anyone."""
from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import support

ROWS = 200_000


def test_a_client_past_its_query_share_is_429_and_others_are_answered(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    (root / "data").mkdir()
    config = json.loads(support.DEFAULT_CONFIG.read_text())
    config["server"]["limits"]["maxQueriesPerClient"] = 1
    (root / "config.json").write_text(json.dumps(config))
    server = support.Server(data_dir=root / "data", config=root / "config.json").start()
    try:
        path = tmp_path / "UK.csv"
        path.write_text(support.sales_csv(ROWS, first_invoice=300000))
        [loaded] = support.uploads_of(support.upload(server, path, timeout=300))
        assert loaded["status"] == "loaded", loaded

        # Six different searches through every description, all at once from 127.0.0.1.
        statuses: list[int] = []
        bodies: list[dict] = []

        def ask(words: str) -> None:
            response = support.get(server, f"/api/report/invoices?product={words}&page=3000&page_size=50")
            statuses.append(response.status)
            bodies.append(response.json())

        threads = [threading.Thread(target=ask, args=(f"nothing-{n}",)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert statuses.count(200) >= 1, statuses
        refused = [b for s, b in zip(statuses, bodies) if s == 429]
        assert refused, f"every one of six concurrent questions was computed at once: {statuses}"
        assert all(b["error"] == "too_many_queries" for b in refused), refused
        assert set(statuses) <= {200, 429}, statuses

        # Another address asks meanwhile-style: its question is computed.
        other = support.curl(server.url("/api/report/summary?from=2010-12-02&to=2010-12-02"), "--interface", "127.0.0.2")
        assert other.status == 200, (other.status, other.body[:300])
    finally:
        support.stop_and_check(server)
