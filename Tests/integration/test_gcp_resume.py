"""A load killed with SIGKILL in the middle resumes on the next start, in gcp mode:
the raw file is read back from Cloud Storage, the rows already inserted are recognised,
and in the end every row is in the view exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
from decimal import Decimal

import pytest

import gcp_support
import reference
import support

pytestmark = gcp_support.requires_emulators

ROWS = int(os.environ.get("GCP_RESUME_ROWS", "40000"))
"""Big enough that the load is still running when the test kills the server."""


def _running_load(server: support.Server, file_name: str):
    """The record of the upload of `file_name` while its rows are being loaded, else None."""
    for record in support.history(server):
        if record["file"] == file_name and record["status"] == "loading" and record["progress"]["bytes_processed"] > 0:
            return record
    return None


def test_load_killed_midway_resumes_on_restart_with_no_row_twice(tmp_path):
    place = gcp_support.Place("resume")
    try:
        path = tmp_path / "UK.csv"
        path.write_text(support.sales_csv(ROWS, first_invoice=900000))
        want = reference.load_file(str(path))
        assert want.loaded == ROWS

        # Small batches, one request at a time: the load takes many rounds, so the kill lands mid-load.
        first = place.start(loadBatchRows=2000, insertBatchRows=500, concurrentInserts=1)
        client = subprocess.Popen(["curl", "-sS", "--max-time", "600", "-o", os.devnull, "-F", f"file=@{path}",
                                   first.url("/api/uploads")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def inserted_mid_load():
            """The running load's record once some (not all) of its rows are in the table."""
            record = _running_load(first, "UK.csv")
            if record is None:
                return None
            [row] = gcp_support.query(f"SELECT COUNT(*) AS n FROM {gcp_support.table(place)} "
                                      f"WHERE upload_id = '{record['id']}'")
            return record if row["n"] > 0 else None

        try:
            # The kill lands mid-load: rows of the upload are stored and it is still loading.
            running = gcp_support.wait_for("a load with rows stored and more to come", inserted_mid_load,
                                           timeout=240, every=0.3)
        finally:
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=support.STOP_TIMEOUT)
            client.kill()
            client.wait()
        upload_id = running["id"]
        partial = gcp_support.query(f"SELECT COUNT(*) AS n FROM {gcp_support.table(place)} WHERE upload_id = '{upload_id}'")
        assert 0 < partial[0]["n"] < want.loaded, f"{partial[0]['n']} of {want.loaded} rows before the kill: raise GCP_RESUME_ROWS"

        second = place.start()

        def finished():
            response = support.get(second, f"/api/uploads/{upload_id}")
            record = response.json() if response.status == 200 else {}
            assert not record or record["id"] == upload_id, record
            return record if record.get("status") in ("loaded", "failed", "rejected") else None

        record = gcp_support.wait_for("the resumed load", finished, timeout=600, every=1.0)
        assert record["status"] == "loaded", record
        assert record["rows"]["loaded"] + record["rows"]["duplicates"] == want.loaded, record
        assert record["rows"]["rejected"] == 0

        [view] = gcp_support.query(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT row_key) AS keys, SUM(revenue) AS total, "
            f"SUM(IF(is_product, revenue, 0)) AS product_revenue FROM {gcp_support.view(place)}")
        assert view["n"] == want.loaded
        assert view["keys"] == want.loaded
        assert Decimal(view["total"]) == sum((r.revenue for r in want.rows), Decimal(0))
        assert reference.money(Decimal(view["product_revenue"])) == want.revenue
        [stored] = gcp_support.query(f"SELECT COUNT(*) AS n, COUNT(DISTINCT row_key) AS keys FROM {gcp_support.table(place)}")
        # The rows inserted before the kill were recognised, not sent again.
        assert stored["n"] == stored["keys"] == want.loaded

        assert support.summary(second)["revenue"] == want.revenue_text
        again = support.upload(second, path, timeout=300)
        assert again.status == 200, again.body
        [result] = support.uploads_of(again)
        assert result["status"] == "already_loaded", result
        assert result["rows"]["loaded"] == 0
    finally:
        place.stop_all()
