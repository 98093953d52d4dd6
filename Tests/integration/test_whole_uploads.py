"""A report asked over and over while a million-row file loads only ever shows whole uploads:
the totals before the load, or the totals with every row of it, never a part."""
from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import support

ROWS = 1_000_000
GENERATOR = (support.REPO_ROOT / ".." / "shared" / "tools" / "gen_online_retail.py").resolve()


def test_a_report_during_a_load_shows_whole_uploads_only(fresh_server, seed, tmp_path):
    server = fresh_server
    first = support.upload(server, seed / "IN.csv", timeout=120)
    assert first.status == 200 and support.uploads_of(first)[0]["status"] == "loaded", first.body
    before = support.summary(server)
    assert Decimal(before["revenue"]) > 0

    big = tmp_path / "UK.csv"
    assert GENERATOR.exists(), f"the data generator is missing: {GENERATOR}"
    with open(big, "wb") as out:
        subprocess.run([sys.executable, str(GENERATOR), "--rows", str(ROWS), "--region", "UK", "--seed", "5"],
                       stdout=out, check=True, timeout=300)

    done = threading.Event()
    outcome: dict = {}

    def send() -> None:
        try:
            outcome["response"] = support.upload(server, big, timeout=600)
        finally:
            done.set()

    threading.Thread(target=send, daemon=True).start()
    seen: list[dict] = []
    statuses: set[str] = set()
    while not done.is_set():
        seen.append(support.summary(server))
        statuses.update(u["status"] for u in support.history(server) if u["file"] == "UK.csv")
    response = outcome.get("response")
    assert response is not None and response.status == 200, response and response.body
    loaded = support.uploads_of(response)[0]
    assert loaded["status"] == "loaded" and loaded["rows"]["loaded"] > 900_000, loaded
    after = support.summary(server)

    # The precondition: questions were answered while the rows were going in.
    assert "loading" in statuses, f"no answer came while the file was loading: {statuses}"
    assert len(seen) >= 3, len(seen)
    assert Decimal(after["revenue"]) == Decimal(before["revenue"]) + Decimal(loaded["revenue"]), (before, after, loaded)
    wholes = [before, after]
    partial = [answer for answer in seen if answer not in wholes]
    assert not partial, f"{len(partial)} of {len(seen)} answers showed part of the upload, e.g. {partial[0]}"
    assert before in seen, "no answer before the load became visible"
