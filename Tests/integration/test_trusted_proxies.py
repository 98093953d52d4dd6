"""Behind a proxy every request comes from the proxy's address: with server.trustedProxies the
client is the address the proxy chain saw (the rightmost X-Forwarded-For entry that is not a
trusted proxy), and without it, or from anyone else, X-Forwarded-For is ignored."""
from __future__ import annotations

import tempfile
from pathlib import Path

import support

CSV = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
       "{invoice},P1,Thing,1,3/1/2011 10:00,1.00,17850,United Kingdom\n")


def new_server(env: dict[str, str] | None = None) -> support.Server:
    root = Path(tempfile.mkdtemp(prefix="sales-portal-it-"))
    (root / "data").mkdir()
    return support.Server(data_dir=root / "data", env=env)


def upload_as(server, tmp: Path, invoice: int, forwarded: str) -> dict:
    path = tmp / f"UK-{invoice}.csv"
    path.write_text(CSV.format(invoice=invoice))
    response = support.upload(server, path, extra=("-H", f"X-Forwarded-For: {forwarded}"))
    assert response.status == 200, (response.status, response.body)
    return support.uploads_of(response)[0]


def test_a_trusted_proxy_names_the_client_and_a_made_up_hop_does_not_count():
    with tempfile.TemporaryDirectory() as tmp:
        server = new_server({"SALES_PORTAL_TRUSTED_PROXIES": "127.0.0.0/8, 10.1.0.0/16"}).start()
        try:
            # The client wrote "198.51.100.1" itself; the proxies appended 203.0.113.9 and 10.1.2.3.
            record = upload_as(server, Path(tmp), 1, "198.51.100.1, 203.0.113.9, 10.1.2.3")
            assert record["client_address"] == "203.0.113.9", record
            # Junk in the chain stops at the proxy that wrote it.
            record = upload_as(server, Path(tmp), 2, "203.0.113.9, not-an-address")
            assert record["client_address"] == "127.0.0.1", record
        finally:
            support.stop_and_check(server)


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    with tempfile.TemporaryDirectory() as tmp:
        server = new_server().start()
        try:
            record = upload_as(server, Path(tmp), 3, "203.0.113.9")
            assert record["client_address"] == "127.0.0.1", record
        finally:
            support.stop_and_check(server)


def test_a_setting_that_is_not_an_address_stops_the_start():
    server = new_server({"SALES_PORTAL_TRUSTED_PROXIES": "proxy.example"})
    try:
        server.start()
    except RuntimeError as error:
        assert "trustedProxies" in str(error) and "proxy.example" in str(error)
    else:
        support.stop_and_check(server)
        raise AssertionError("the server started with a proxy that is not an address")
