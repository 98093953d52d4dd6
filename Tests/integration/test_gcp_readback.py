"""What the server wrote in gcp mode, read back with Google's own Python clients
(google-cloud-storage, google-cloud-bigquery), independent of the server's code:
the raw objects hold the uploaded bytes, the rejects sit beside them, and the reporting
view's rows and revenue equal the reference's."""
from __future__ import annotations

from decimal import Decimal

import pytest

import gcp_support
import reference
import support

pytestmark = gcp_support.requires_emulators


@pytest.fixture(scope="module")
def place():
    here = gcp_support.Place("readback")
    here.start()
    yield here
    here.stop_all()


@pytest.fixture(scope="module")
def server(place):
    return place.servers[0]


@pytest.fixture(scope="module")
def seeded(server, seed):
    response = support.upload(server, seed / "IN.csv", seed / "usa.csv")
    assert response.status == 200, (response.status, response.body[:2000])
    return {result["region"]: result for result in support.uploads_of(response)}


def test_ready_checks_the_bucket_and_the_table(server):
    response = support.get(server, "/readyz")
    assert response.status == 200, response.body
    assert response.json()["status"] == "ready"


@pytest.mark.parametrize("region, name", [("IN", "IN.csv"), ("USA", "usa.csv")])
def test_stored_object_has_the_uploaded_bytes(place, seeded, seed, region, name):
    uri = seeded[region]["object_uri"]
    assert uri.startswith(f"gs://{place.bucket}/"), uri
    stored = gcp_support.download(uri)
    original = (seed / name).read_bytes()
    assert len(stored) == len(original)
    assert gcp_support.md5(stored) == gcp_support.md5(original)


def test_view_rows_and_revenue_equal_the_reference(place, seeded, seed):
    ids = {region: result["id"] for region, result in seeded.items()}
    rows = gcp_support.query(
        f"SELECT upload_id, COUNT(*) AS n, COUNT(DISTINCT row_key) AS keys, SUM(revenue) AS total, "
        f"SUM(IF(is_product, revenue, 0)) AS product_revenue FROM {gcp_support.view(place)} GROUP BY upload_id")
    by_upload = {row["upload_id"]: row for row in rows}
    for region, name in (("IN", "IN.csv"), ("USA", "usa.csv")):
        want = reference.load_file(str(seed / name))
        got = by_upload[ids[region]]
        assert got["n"] == want.loaded
        assert got["keys"] == want.loaded
        assert Decimal(got["total"]) == sum((r.revenue for r in want.rows), Decimal(0))
        assert reference.money(Decimal(got["product_revenue"])) == want.revenue


def test_rejects_csv_sits_beside_the_raw_file(place, server, tmp_path):
    content = support.sales_csv(5, first_invoice=810000)
    lines = content.split("\r\n")
    lines[3] = lines[3].replace("3/1/2011", "13/45/2011")  # impossible date on line 4
    path = tmp_path / "UK.csv"
    path.write_text("\r\n".join(lines))
    response = support.upload(server, path)
    assert response.status == 200, response.body
    [result] = support.uploads_of(response)
    assert result["rows"]["loaded"] == 4 and result["rows"]["rejected"] == 1, result
    rejects_uri = result["rejects_uri"]
    raw_folder = result["object_uri"].rsplit("/", 1)[0]
    assert rejects_uri.startswith(f"gs://{place.bucket}/"), rejects_uri
    assert rejects_uri.rsplit("/", 1)[0] == raw_folder
    rejects = gcp_support.download(rejects_uri).decode()
    assert "error" in rejects.splitlines()[0]
    assert "13/45/2011" in rejects
    assert gcp_support.md5(gcp_support.download(result["object_uri"])) == gcp_support.md5(path.read_bytes())


def test_upload_records_are_in_bigquery(place, seeded):
    rows = gcp_support.query(
        f"SELECT DISTINCT upload_id, request_id FROM `{gcp_support.PROJECT}.{place.dataset}.upload_events` WHERE status = 'loaded'")
    request_ids = {row["upload_id"]: row["request_id"] for row in rows}
    assert {result["id"] for result in seeded.values()} <= set(request_ids)
    # Each record carries the id of the request that brought its file, as the answer gave it.
    for result in seeded.values():
        assert result["request_id"] and request_ids[result["id"]] == result["request_id"], (result, request_ids)


def test_not_ready_when_the_bucket_is_gone():
    place = gcp_support.Place("ready")
    try:
        server = place.start()
        assert support.get(server, "/readyz").status == 200
        gcp_support.storage_client().bucket(place.bucket).delete()
        # The stores are checked every 5 s in the background: the next check sees the bucket gone.
        response = gcp_support.wait_for("/readyz to notice", lambda: (r := support.get(server, "/readyz")).status == 503 and r,
                                        timeout=20, every=0.5)
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"] == {"object_store": "failed", "warehouse": "ok"}, body
        # Open to all: the bucket's name and the error's text go to the log, not to the caller.
        assert place.bucket.encode() not in response.body
        gcp_support.wait_for("the log to say why", lambda: "the object store check failed" in server.stderr(), timeout=10)
    finally:
        place.stop_all()
