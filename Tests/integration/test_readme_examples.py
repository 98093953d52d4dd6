"""The README's example commands, run as written against the seed files: the curl lines of
"Using it" and the report examples of "Dashboard", with the output the README shows (ids and
times aside). A README that drifts from the server fails here."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

import reference
import support

README = support.REPO_ROOT / "README.md"
EXAMPLE_ADDRESS = "http://127.0.0.1:8080"
ANY, MORE = "<any value>", "<more items>"


def code_blocks(section: str, language: str) -> list[str]:
    """The ```language blocks of the README section whose heading is `section`."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end > 0 else len(text)]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def examples(block: str) -> list[tuple[list[str], str | None]]:
    """(curl command as arguments, the output shown below it in `# ` lines, or None)."""
    found: list[tuple[list[str], str | None]] = []
    for line in block.splitlines():
        if line.startswith("curl "):
            found.append((shlex.split(line, comments=True), None))
        elif line.startswith("# ") and found and line[2:].lstrip()[:1] in "{\"":
            command, shown = found[-1]
            found[-1] = (command, (shown or "") + line[2:].strip())
    return found


def run(command: list[str], server: support.Server, cwd: Path) -> tuple[int, bytes]:
    """Runs a README curl line against `server` from `cwd`: (HTTP status, body)."""
    args = [arg.replace(EXAMPLE_ADDRESS, server.url("").rstrip("/")) for arg in command[1:]]
    done = subprocess.run(["curl", "-sS", "--max-time", "120", "-w", "\n%{http_code}", *args],
                          capture_output=True, cwd=cwd, timeout=150)
    assert done.returncode == 0, (command, done.stderr)
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def shown_json(text: str):
    """The README's output with its elisions made explicit: `{…}` and `…` any value, `,…]` more items."""
    text = text.replace("{…}", json.dumps(ANY)).replace(",…]", "," + json.dumps(MORE) + "]")
    text = re.sub(r":\s*…", ":" + json.dumps(ANY), text)
    return json.loads(text)


def mismatches(got, shown, path: str = "") -> list[str]:
    if shown == ANY:
        return []
    if isinstance(shown, str) and shown.endswith("…"):
        return [] if isinstance(got, str) and got.startswith(shown[:-1]) else [f"{path}: {got!r} vs {shown!r}"]
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [f"{path}: {got!r} is not an object"]
        problems = [f"{path}.{key}: missing" for key in shown if key not in got]
        for key in shown:
            if key in got:
                problems += mismatches(got[key], shown[key], f"{path}.{key}")
        return problems
    if isinstance(shown, list):
        more = bool(shown) and shown[-1] == MORE
        items = shown[:-1] if more else shown
        if not isinstance(got, list) or (len(got) < len(items) if more else len(got) != len(items)):
            return [f"{path}: {len(got) if isinstance(got, list) else got!r} items vs {shown!r}"]
        return [problem for i, item in enumerate(items) for problem in mismatches(got[i], item, f"{path}[{i}]")]
    return [] if got == shown and type(got) is type(shown) else [f"{path}: {got!r} vs {shown!r}"]


@pytest.fixture
def workdir(tmp_path, seed) -> Path:
    """A folder with the files the examples name."""
    for name in ("IN.csv", "usa.csv"):
        shutil.copy(seed / name, tmp_path / name)
    (tmp_path / "march-export.csv").write_text(support.sales_csv(40, first_invoice=420000))
    return tmp_path


def test_the_using_it_commands_answer_as_the_readme_says(fresh_server, workdir):
    block = code_blocks("Using it", "bash")[0]
    commands = [command for command, _ in examples(block)]
    urls = [next(a for a in c if a.startswith(EXAMPLE_ADDRESS))[len(EXAMPLE_ADDRESS):] for c in commands]
    assert urls == ["/api/uploads", "/api/uploads", "/api/uploads?dry_run=1", "/api/uploads", "/api/uploads/ID",
                    "/api/report/summary?region=IN&from=2010-12-01&to=2010-12-31", "/healthz", "/readyz"], urls
    want_in = reference.load_file(str(workdir / "IN.csv"))
    want_usa = reference.load_file(str(workdir / "usa.csv"))
    want_uk = reference.load_file(str(workdir / "march-export.csv"), region="UK")

    # Several files; the region from each file name.
    status, body = run(commands[0], fresh_server, workdir)
    assert status == 200, body
    first = json.loads(body)["uploads"]
    assert [(u["file"], u["region"], u["status"], u["rows"]["loaded"]) for u in first] == [
        ("IN.csv", "IN", "loaded", want_in.loaded), ("usa.csv", "USA", "loaded", want_usa.loaded)]

    # The answer shown for IN.csv, ids and times aside.
    shown_block = code_blocks("Using it", "json")[0]
    shown = json.loads(shown_block)
    got = first[0]
    aside = ("id", "object_uri", "created_at", "updated_at", "timings")
    assert mismatches(got, {k: v for k, v in shown.items() if k not in aside}) == []
    assert set(shown) <= set(got)
    assert re.fullmatch(rf"file:///.+/objects/uploads/IN/\d{{4}}/\d\d/\d\d/{got['id']}/IN\.csv", got["object_uri"])
    assert set(got["timings"]) == set(shown["timings"])

    # The region from a form field.
    status, body = run(commands[1], fresh_server, workdir)
    assert status == 200, body
    [uk] = json.loads(body)["uploads"]
    assert (uk["file"], uk["region"], uk["status"], uk["rows"]["loaded"]) == ("march-export.csv", "UK", "loaded", want_uk.loaded)

    # A check: what the file would give, nothing stored (no new history entry below).
    status, body = run(commands[2], fresh_server, workdir)
    assert status == 200, body
    [checked] = json.loads(body)["files"]
    assert (checked["file"], checked["region"], checked["status"], checked["rows"]["loaded"], len(checked["sample"])) == \
        ("IN.csv", "IN", "checked", want_in.loaded, 20)

    # The history, newest first, and one upload by its id.
    status, body = run(commands[3], fresh_server, workdir)
    assert status == 200
    history = json.loads(body)["uploads"]
    assert [u["id"] for u in history] == [uk["id"], first[1]["id"], first[0]["id"]]
    assert [u["created_at"] for u in history] == sorted((u["created_at"] for u in history), reverse=True)
    one = [arg.replace("/ID", "/" + first[0]["id"]) for arg in commands[4]]
    status, body = run(one, fresh_server, workdir)
    assert status == 200
    record = json.loads(body)
    assert (record["id"], record["status"], record["rows"]) == (first[0]["id"], "loaded", first[0]["rows"])
    assert record["progress"] == {"bytes_processed": want_in_size(workdir), "bytes_total": want_in_size(workdir)}

    status, body = run(commands[5], fresh_server, workdir)
    assert status == 200
    summary = json.loads(body)
    want = reference.summary([want_in, want_usa, want_uk], region="IN",
                               date_from=date(2010, 12, 1), date_to=date(2010, 12, 31))
    assert {k: summary[k] for k in want} == want

    status, _ = run(commands[6], fresh_server, workdir)
    assert status == 200
    status, body = run(commands[7], fresh_server, workdir)
    assert status == 200 and json.loads(body)["status"] == "ready"


def want_in_size(workdir: Path) -> int:
    return (workdir / "IN.csv").stat().st_size


def test_the_report_examples_show_what_the_server_answers(fresh_server, workdir):
    # The examples' data: the two seed files, as the README's first upload loads them.
    assert support.upload(fresh_server, workdir / "IN.csv", workdir / "usa.csv").status == 200
    [block] = code_blocks("Dashboard", "bash")
    found = examples(block)
    assert len(found) == 6 and all(shown is not None for _, shown in found), found
    for command, shown in found:
        status, body = run(command, fresh_server, workdir)
        assert status == 200, (command, body[:300])
        assert mismatches(json.loads(body), shown_json(shown)) == [], (command[-1], shown)
