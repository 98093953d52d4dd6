"""Precise answers to requests that are off, and counts that add up on a re-upload."""
from pathlib import Path

from support import get, upload


def test_an_unknown_api_path_is_a_json_404(server):
    response = get(server, "/api/nope")
    assert response.status == 404
    body = response.json()
    assert body["error"] == "not_found" and "/api/nope" in body["message"]


def test_a_bad_history_limit_is_refused(server):
    for value in ("abc", "0", "-1", "1001"):
        response = get(server, f"/api/uploads?limit={value}")
        assert response.status == 400, value
        assert response.json()["error"] == "bad_limit"
    assert get(server, "/api/uploads?limit=1000").status == 200


def test_an_empty_file_is_called_empty_even_without_a_region(server, tmp_path: Path):
    empty = tmp_path / "sales.csv"
    empty.write_bytes(b"")
    response = upload(server, empty)
    assert response.status == 422
    assert response.json()["uploads"][0]["error"] == "empty_file"


def test_a_re_upload_counts_add_up(server, tmp_path: Path):
    text = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
            "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
            "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
            "536366,22633,HAND WARMER,six,12/1/2010 8:28,1.85,17850,United Kingdom\n")
    path = tmp_path / "UK.csv"
    path.write_text(text)
    first = upload(server, path).json()["uploads"][0]
    assert first["status"] == "loaded"
    assert first["rows"] == {"read": 3, "loaded": 1, "rejected": 1, "duplicates": 1}
    again = upload(server, path).json()["uploads"][0]
    assert again["status"] == "already_loaded"
    assert again["rows"] == {"read": 3, "loaded": 0, "rejected": 1, "duplicates": 2}
