"""Files dropped into the bucket are loaded, as the original Cloud Function did: an object is
put into the storage emulator with google-cloud-storage, and its notification is pushed to
`POST /api/events/gcs` as Pub/Sub would, with an RS256 ID token signed by a key of the test
(its JWK set is gcsEvents.keysFile). The view's totals, read with google-cloud-bigquery, must
equal the reference's; a redelivery, a bad token and an object outside the pattern load nothing."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import access_support
import gcp_support
import push_support
import reference
import support

pytestmark = gcp_support.requires_emulators

SUMMARY_SQL = """
SELECT COUNT(*) AS n,
       SUM(IF(is_product, revenue, 0)) AS revenue,
       COUNT(DISTINCT IF(is_cancellation, NULL, CONCAT(region, '|', invoice_no))) AS orders,
       COUNT(DISTINCT IF(is_cancellation, CONCAT(region, '|', invoice_no), NULL)) AS cancellations,
       SUM(IF(is_product, quantity, 0)) AS units,
       COUNT(DISTINCT customer_id) AS customers
FROM {view}"""


class Drop:
    """A gcp-mode server taking notifications of its own bucket, and the test's signing key."""

    def __init__(self):
        self.place = gcp_support.Place("events")
        self.root = Path(tempfile.mkdtemp(prefix="sales-portal-events-"))
        self.signer = push_support.Signer()
        keys = self.signer.write_keys(self.root / "certs.json")
        config = access_support.write_config(self.root, push_support.events_settings(keys), gcp=True)
        data = self.root / "data"
        data.mkdir()
        self.server = support.Server(data_dir=data, config=config, env=self.place.env).start()
        self.place.servers.append(self.server)

    def put(self, name: str, content: bytes) -> int:
        """Puts an object into the bucket; its generation."""
        blob = gcp_support.storage_client().bucket(self.place.bucket).blob(name)
        blob.upload_from_string(content, content_type="text/csv")
        blob.reload()
        return int(blob.generation)

    def push(self, name: str, generation: int, token: str | None = "", **options) -> support.Response:
        token = self.signer.token() if token == "" else token
        body = push_support.push_body(self.place.bucket, name, generation, **options)
        return support.curl(self.server.url("/api/events/gcs"), *push_support.push_args(body, token), timeout=10)

    def record(self, upload_id: str) -> dict | None:
        response = support.get(self.server, f"/api/uploads/{upload_id}")
        return response.json() if response.status == 200 else None

    def finished(self, upload_id: str) -> dict:
        return gcp_support.wait_for(
            f"upload {upload_id} finished", lambda: (r := self.record(upload_id)) and r["status"] not in
            ("stored", "loading") and r, timeout=120)

    def log(self) -> str:
        """Everything the server wrote to standard error."""
        return self.server.log_path.read_text(errors="replace")

    def totals(self) -> dict:
        [row] = gcp_support.query(SUMMARY_SQL.format(view=gcp_support.view(self.place)))
        return row

    def stop(self):
        self.place.stop_all()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def drop():
    running = Drop()
    yield running
    running.stop()


def summary_of(row: dict) -> dict:
    return {"revenue": str(reference.money(row["revenue"] or 0)), "orders": row["orders"],
            "cancellations": row["cancellations"], "units": row["units"] or 0, "customers": row["customers"]}


def test_a_dropped_file_is_loaded_once_however_often_its_notification_comes(drop, seed):
    content = (seed / "IN.csv").read_bytes()
    generation = drop.put("incoming/IN/march.csv", content)

    started = time.monotonic()
    response = drop.push("incoming/IN/march.csv", generation)
    acknowledged = time.monotonic() - started
    assert response.status == 202, (response.status, response.body)
    # Acknowledged before the load: Pub/Sub's deadline is never the load's length.
    assert acknowledged < 1.0, f"the push was answered after {acknowledged:.2f} s"
    upload_id = response.json()["upload_id"]
    record = drop.finished(upload_id)
    want = reference.load_file(str(seed / "IN.csv"))
    assert record["status"] == "loaded", record
    assert record["region"] == "IN" and record["file"] == "march.csv", record
    assert record["object_uri"] == f"gs://{drop.place.bucket}/incoming/IN/march.csv", record
    assert record["user"] == push_support.PUSH_ACCOUNT, record
    assert record["rows"]["loaded"] == want.loaded, record
    totals = drop.totals()
    assert totals["n"] == want.loaded
    assert summary_of(totals) == reference.summary([want])
    # The object stays where it was dropped, and nothing was copied beside the portal's uploads.
    names = [blob.name for blob in gcp_support.storage_client().list_blobs(drop.place.bucket)]
    assert names == ["incoming/IN/march.csv"], names
    trail = support.get(drop.server, "/api/audit?kind=upload").json()["events"]
    assert [(e["user"], e["subject"]) for e in trail] == [(push_support.PUSH_ACCOUNT, upload_id)], trail

    # Pub/Sub delivers at least once: the same message again is acknowledged and loads nothing.
    again = drop.push("incoming/IN/march.csv", generation)
    assert again.status in (200, 202, 204), (again.status, again.body)
    assert again.json()["upload_id"] == upload_id
    gcp_support.wait_for("the redelivery handled", lambda: "nothing is loaded again" in drop.log(), timeout=60)
    assert drop.totals() == totals
    history = [u for u in support.history(drop.server) if u["object_uri"].endswith("incoming/IN/march.csv")]
    assert [u["id"] for u in history] == [upload_id], history


def test_a_push_without_googles_token_for_our_account_loads_nothing(drop, seed):
    before = drop.totals()
    content = (seed / "usa.csv").read_bytes()
    generation = drop.put("incoming/USA/usa.csv", content)
    other = push_support.Signer()
    cases = {
        "no token": (None, 401),
        "another key": (other.token(), 401),
        "another audience": (drop.signer.token(audience="https://elsewhere.example.com/push"), 401),
        "expired": (drop.signer.token(lifetime=-600), 401),
        "a portal token": ("spt_not-a-google-token", 401),
        "another account": (drop.signer.token(email="intruder@other.iam.gserviceaccount.com"), 403),
    }
    for label, (token, status) in cases.items():
        response = drop.push("incoming/USA/usa.csv", generation, token=token)
        assert response.status == status, (label, response.status, response.body)
        if status == 401:
            assert response.json()["error"] == "unauthenticated", (label, response.body)
            assert response.headers.get("www-authenticate", "").startswith("Bearer"), label
    upload_id = push_support_upload_id(drop, "incoming/USA/usa.csv", generation)
    assert drop.record(upload_id) is None
    assert drop.totals() == before


def push_support_upload_id(drop: Drop, name: str, generation: int) -> str:
    """The upload id the portal gives an object generation: sha256("gs://b/name#gen")[:20]."""
    import hashlib
    return hashlib.sha256(f"gs://{drop.place.bucket}/{name}#{generation}".encode()).hexdigest()[:20]


def test_objects_outside_the_pattern_and_other_events_are_acknowledged_and_ignored(drop, seed):
    before = drop.totals()
    content = (seed / "usa.csv").read_bytes()
    outside = "exports/USA/usa.csv"
    generation = drop.put(outside, content)
    for response in (drop.push(outside, generation),
                     drop.push("incoming/USA/usa.csv", 1, event_type="OBJECT_DELETE"),
                     drop.push("incoming/USA/usa.csv", 1, event_type="OBJECT_METADATA_UPDATE")):
        assert response.status in (200, 204), (response.status, response.body)
    assert drop.record(push_support_upload_id(drop, outside, generation)) is None
    assert drop.totals() == before
    assert "outside gcsEvents.objectPattern" in drop.log()


def test_an_unknown_region_is_recorded_rejected_and_acknowledged(drop):
    content = support.sales_csv(3, first_invoice=930000).encode()
    name = "incoming/FR/paris.csv"
    generation = drop.put(name, content)
    before = drop.totals()
    response = drop.push(name, generation)
    assert response.status == 202, (response.status, response.body)
    record = drop.finished(response.json()["upload_id"])
    assert (record["status"], record["error"]) == ("rejected", "unknown_region"), record
    assert record["object_uri"] == f"gs://{drop.place.bucket}/{name}"
    assert drop.totals() == before
    # Sending it again changes nothing either.
    assert drop.push(name, generation).status == 202
    assert [u["id"] for u in support.history(drop.server) if u["object_uri"].endswith(name)] == [record["id"]]


def test_the_route_is_not_found_when_notifications_are_off(tmp_path):
    place = gcp_support.Place("events-off")
    try:
        server = place.start()
        body = push_support.push_body(place.bucket, "incoming/IN/IN.csv", 1)
        response = support.curl(server.url("/api/events/gcs"),
                                *push_support.push_args(body, push_support.Signer().token()), timeout=10)
        assert response.status == 404, (response.status, response.body)
        assert response.json()["error"] == "not_found"
    finally:
        place.stop_all()
