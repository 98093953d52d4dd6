"""Twenty kill -9s at random moments while files are received, stored and loaded (and every
fourth once its upload is answered), with a restart after each: at the end every upload the server acknowledged is loaded exactly once,
no file is loaded twice, and the totals equal the reference over the loaded files."""
from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import time

import reference
import support

ROUNDS = 20
ROWS = 40_000


def test_twenty_kills_lose_nothing_acknowledged_and_load_nothing_twice(tmp_path):
    chance = random.Random(20261130)
    files = []
    for index in range(ROUNDS):
        path = tmp_path / f"UK-{index:02d}.csv"
        path.write_text(support.sales_csv(ROWS, first_invoice=100000 + index * ROWS))
        files.append(path)
    server = support.start_server()
    data_dir = server.data_dir
    acknowledged: dict[str, str] = {}     # sha256 → the upload id the server answered with
    kills = 0
    try:
        for index, path in enumerate(files):
            client = subprocess.Popen(
                ["curl", "-sS", "--max-time", "120", "--limit-rate", "4M", "-o", str(tmp_path / (path.name + ".answer")), "-w", "%{http_code}",
                 "-F", f"file=@{path}", f"http://{server.host}:{server.port}/api/uploads"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if index % 4 == 3:
                # Every fourth kill comes once the answer is in, however slow the machine: some
                # uploads are acknowledged before their server dies.
                client.wait(timeout=120)
            else:
                # Anywhere from receiving the first bytes (about 0.8 s at 4 MB/s) to after the answer.
                time.sleep(chance.uniform(0.0, 2.5))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=support.STOP_TIMEOUT)
            kills += 1
            status = client.communicate(timeout=60)[0]
            if status == "200":
                body = (tmp_path / (path.name + ".answer")).read_bytes()
                [answer] = support.uploads_of(support.Response(200, {}, body))
                assert answer["status"] == "loaded", answer
                acknowledged[answer["sha256"]] = answer["id"]
            server = support.Server(data_dir=data_dir).start()
        assert kills == ROUNDS

        def settled():
            records = support.history(server)
            return records if all(r["status"] in ("loaded", "rejected", "already_loaded") for r in records) else None

        records = support.wait_for("every interrupted load finished", settled, timeout=300, every=0.5)
        loaded = [r for r in records if r["status"] == "loaded"]
        by_sha: dict[str, list[dict]] = {}
        for record in loaded:
            by_sha.setdefault(record["sha256"], []).append(record)
        assert all(len(copies) == 1 for copies in by_sha.values()), {s: [r["id"] for r in c] for s, c in by_sha.items() if len(c) > 1}
        for sha, upload_id in acknowledged.items():
            assert sha in by_sha and by_sha[sha][0]["id"] == upload_id, (sha, upload_id)
        sha_of = {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in files}
        results = [reference.load_file(str(sha_of[sha]), region="UK") for sha in by_sha]
        for record in loaded:
            assert record["rows"]["loaded"] == ROWS, record
        expected = reference.summary(results)
        summary = support.summary(server)
        assert (summary["revenue"], summary["orders"], summary["units"]) == \
            (expected["revenue"], expected["orders"], expected["units"]), (summary, expected, len(results))
        print(f"{kills} kills; {len(acknowledged)} uploads acknowledged, {len(loaded)} loaded")
        # The kills landed in every phase: some files never arrived whole, some were answered.
        assert 0 < len(acknowledged) < ROUNDS and len(loaded) < ROUNDS, (len(acknowledged), len(loaded))
    finally:
        support.stop_and_check(server)
