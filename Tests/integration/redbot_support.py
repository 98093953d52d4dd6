"""Runs REDbot (the HTTP linter, PyPI `redbot`) on one URL and prints its notes as JSON lines.

Run as `python redbot_support.py URL`: each check gets a process of its own, since REDbot's
event loop (thor) is process-wide. Each line is {"name", "level", "category", "summary", "depth"};
`level` is good, info, warning or bad; `depth` is 1 for a note under another. It exits 2 when
REDbot could not fetch the URL at all.
"""
from __future__ import annotations

import json
import sys
from configparser import ConfigParser


def notes_of(url: str) -> list[dict]:
    """REDbot's notes on `url`, those of its follow-up requests (conditional, gzip) included."""
    import thor
    from redbot.resource import HttpResource

    parser = ConfigParser()
    parser.read_dict({"redbot": {"enable_local_access": "True"}})
    resource = HttpResource(parser["redbot"], descend=False)
    resource.set_request(url)

    @thor.events.on(resource)
    def check_done() -> None:
        thor.stop()

    resource.check()
    thor.run()
    if resource.fetch_error is not None or not resource.response.complete:
        error = resource.fetch_error
        detail = f"{error.desc} {error.detail or ''}" if error is not None else "incomplete response"
        print(f"REDbot could not fetch {url}: {detail}", file=sys.stderr)
        sys.exit(2)
    found: list[dict] = []

    def add(note, depth: int) -> None:
        found.append({"name": type(note).__name__, "level": note.level.value,
                      "category": note.category.value if note.category else "",
                      "summary": note.summary, "depth": depth})
        for subnote in note.subnotes:
            add(subnote, depth + 1)

    for note in resource.response.notes:
        add(note, 0)
    return found


if __name__ == "__main__":
    for found_note in notes_of(sys.argv[1]):
        print(json.dumps(found_note))
