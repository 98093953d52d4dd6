"""The same file sent again while a restart is resuming its interrupted load stores no second
copy and makes no second record: the answer names the upload that is loading, and in the end
every row counts once."""
from __future__ import annotations

import signal
import threading

import reference
import support

ROWS = 300_000
"""Large enough that the load (and the resumed load) is still running when the test acts."""


def _record_of(server: support.Server, file_name: str) -> dict | None:
    for record in support.history(server):
        if record["file"] == file_name:
            return record
    return None


def test_a_resend_during_the_resume_names_the_loading_upload_and_stores_nothing_twice(tmp_path):
    path = tmp_path / "UK.csv"
    path.write_text(support.sales_csv(ROWS, first_invoice=600000))
    want = reference.load_file(str(path))
    server = support.start_server()
    data_dir = server.data_dir
    try:
        sender = threading.Thread(target=lambda: support.upload(server, path, timeout=600), daemon=True)
        sender.start()

        def loading():
            record = _record_of(server, "UK.csv")
            return record if record and record["status"] == "loading" and record["progress"]["bytes_processed"] > 0 else None

        first = support.wait_for("the first load under way", loading, timeout=120, every=0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=support.STOP_TIMEOUT)
        sender.join(timeout=30)

        server = support.Server(data_dir=data_dir).start()

        def resuming():
            record = _record_of(server, "UK.csv")
            return record if record and record["id"] == first["id"] and record["status"] in ("stored", "loading") else None

        support.wait_for("the resumed load under way", resuming, timeout=60, every=0.02)
        response = support.upload(server, path, timeout=600)
        [answer] = support.uploads_of(response)
        # The resume of 300,000 rows takes seconds, the resend a fraction of one: it finds it loading.
        assert response.status == 200, (response.status, answer)
        assert answer["id"] == first["id"], answer
        assert answer["resent_while_loading"] is True and answer["status"] in ("stored", "loading"), answer
        assert f"/api/uploads/{first['id']}" in answer["message"], answer

        def finished():
            record = support.get(server, f"/api/uploads/{first['id']}").json()
            return record if record["status"] == "loaded" else None

        support.wait_for("the resumed load to finish", finished, timeout=300, every=0.2)
        records = [r for r in support.history(server) if r["sha256"] == first["sha256"]]
        assert [r["status"] for r in records if r["status"] != "already_loaded"] == ["loaded"], records
        stored_copies = support.files_with_content(data_dir / "objects", path.read_bytes())
        assert len(stored_copies) == 1, stored_copies
        summary = support.summary(server)
        expected = reference.summary([want])
        assert (summary["revenue"], summary["orders"], summary["units"]) == \
            (expected["revenue"], expected["orders"], expected["units"])
    finally:
        support.stop_and_check(server)
