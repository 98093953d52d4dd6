"""Files sent gzip-compressed (`IN.csv.gz`): read decompressed as they stream, loaded to the
cent of the reference, and kept as they came; a decompression bomb is refused while it
arrives (413) and a gzip file cut short is recorded rejected, with nothing loaded."""
from __future__ import annotations

import gzip
import zlib

import reference
import support


def test_a_gzipped_seed_file_loads_to_the_cent_and_is_kept_as_it_came(fresh_server, seed, tmp_path):
    want = reference.load_file(str(seed / "IN.csv"))
    compressed = gzip.compress((seed / "IN.csv").read_bytes())
    path = tmp_path / "IN.csv.gz"
    path.write_bytes(compressed)
    response = support.upload(fresh_server, path)
    assert response.status == 200, response.body[:2000]
    [result] = support.uploads_of(response)
    assert result["status"] == "loaded", result
    assert result["rows"] == {"read": want.read, "loaded": want.loaded, "rejected": want.rejected,
                              "duplicates": want.duplicates}
    assert result["revenue"] == want.revenue_text
    assert result["size"] == len(compressed)
    assert support.summary(fresh_server, region="IN")["revenue"] == want.revenue_text
    # The raw file stored is the file as uploaded: compressed.
    assert support.files_with_content(fresh_server.data_dir, compressed), "the gzip file was not kept as it came"
    # The same rows sent plain are duplicates, not new rows.
    [plain] = support.uploads_of(support.upload(fresh_server, seed / "IN.csv"))
    assert plain["status"] == "loaded" and plain["rows"]["loaded"] == 0, plain
    assert support.summary(fresh_server, region="IN")["revenue"] == want.revenue_text


def test_a_windows_1252_file_compressed_is_read_as_windows_1252(fresh_server, tmp_path):
    text = support.sales_csv(3, first_invoice=610000, description="CAFÉ CRÈME SET")
    path = tmp_path / "UK.csv.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    [result] = support.uploads_of(support.upload(fresh_server, path))
    assert result["status"] == "loaded", result
    assert result["encoding"] == "windows-1252", result
    lines = support.get(fresh_server, "/api/report/invoices/UK/610000").json()["lines"]
    assert {line["description"] for line in lines} == {"CAFÉ CRÈME SET"}, lines


def test_a_decompression_bomb_is_refused_while_it_arrives(fresh_server, tmp_path):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    path = tmp_path / "UK.csv.gz"
    with open(path, "wb") as handle:
        handle.write(packer.compress((support.HEADER + "\r\n").encode()))
        block = b"0" * (1 << 20)
        for _ in range(300):
            handle.write(packer.compress(block))
        handle.write(packer.flush())
    assert path.stat().st_size < 1 << 20
    before = support.history(fresh_server)
    response = support.upload(fresh_server, path)
    assert response.status == 413, (response.status, response.body[:500])
    assert "decompress" in response.json()["message"], response.body
    assert support.history(fresh_server) == before
    assert not list(fresh_server.data_dir.rglob("*.part")), "a spool file was left behind"


def test_a_gzip_file_cut_short_is_rejected_and_recorded(fresh_server, seed, tmp_path):
    compressed = gzip.compress((seed / "IN.csv").read_bytes())
    path = tmp_path / "IN.csv.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    response = support.upload(fresh_server, path)
    assert response.status == 422, (response.status, response.body[:500])
    [result] = support.uploads_of(response)
    assert (result["status"], result["error"]) == ("rejected", "bad_gzip"), result
    assert any(r["id"] == result["id"] and r["error"] == "bad_gzip" for r in support.history(fresh_server))
    assert support.summary(fresh_server, region="IN")["orders"] == 0
