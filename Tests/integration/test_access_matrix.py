"""Who may do what (README.md, "Running it for a team"), as a table of route × role × region
generated from `sales-portal routes`: every route the server has is requested by an
anonymous client, a viewer of IN, an uploader of IN, a viewer of every region and an
admin, with the region cases each route has (a ?region= filter, a {region} in the path,
an upload id of a region, an upload of a region's file).

A route whose pattern this module cannot fill fails the table, so a new route is covered
by construction. Report answers must equal the reference's figures (reference.py) over
exactly the regions the user may see. The table runs in the embedded deployment and in
gcp mode against the emulators."""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

import access_support as access
import push_support
import reference
import support
from access_support import User

PARAM = re.compile(r"\{([A-Za-z_]+)(\.\.\.)?\}")
KNOWN_PARAMS = {"id", "region", "invoice", "path"}
KINDS = {"api", "page", "asset"}
SCOPES = {"none", "query", "path", "record", "upload"}

ROLES = {
    # label: (role, regions); the anonymous client has no user.
    "anonymous": None,
    "viewer-in": ("viewer", ["IN"]),
    "uploader-in": ("uploader", ["IN"]),
    "viewer-all": ("viewer", ["*"]),
    "admin": ("admin", ["*"]),
}

# What the contract fixes for routes it names; every other route is judged by what
# `sales-portal routes` says of it.
CONTRACT = {
    ("GET", "/healthz"): ("public", "none"),
    ("GET", "/readyz"): ("public", "none"),
    ("GET", "/login"): ("public", "none"),
    ("POST", "/login"): ("public", "none"),
    ("GET", "/api/me"): ("viewer", "none"),
    ("GET", "/dashboard"): ("viewer", None),
    ("GET", "/api/report/summary"): ("viewer", "query"),
    ("GET", "/api/report/timeseries"): ("viewer", "query"),
    ("GET", "/api/report/breakdown"): ("viewer", "query"),
    ("GET", "/api/report/invoices"): ("viewer", "query"),
    ("GET", "/api/report/options"): ("viewer", None),
    ("GET", "/api/report/invoices/{region}/{invoice}"): ("viewer", "path"),
    ("POST", "/api/uploads"): ("uploader", "upload"),
    ("GET", "/api/uploads"): ("viewer", None),
    ("GET", "/api/uploads/{id}"): ("viewer", "record"),
    ("DELETE", "/api/uploads/{id}"): ("uploader", "record"),
    ("GET", "/api/audit"): ("admin", None),
    # Pub/Sub's pushes prove themselves with Google's ID token, not as users of the portal.
    ("POST", "/api/events/gcs"): ("public", "none"),
}
REQUIRED_ROUTES = [key for key in CONTRACT if key not in {("DELETE", "/api/uploads/{id}"), ("GET", "/api/audit")}]

# Parameters a report route needs besides its filters.
BASE_QUERY = {
    "/api/report/timeseries": {"grain": "month"},
    "/api/report/breakdown": {"by": "region", "limit": "10"},
    "/api/report/invoices": {"page_size": "500"},
}


# --- the world a table runs in ----------------------------------------------------------

@dataclass
class World:
    mode: str
    site: access.Site
    server: support.Server
    users: dict[str, User]
    results: dict[str, reference.FileResult]   # region -> the reference's reading of its seed file
    upload_ids: dict[str, str]                 # region -> the seed upload's id
    routes: list[dict]
    workdir: Path
    counter: list[int] = field(default_factory=lambda: [880000])

    @property
    def admin(self) -> User:
        return self.users["admin"]

    def allowed(self, user: User | None) -> list[reference.FileResult]:
        return [r for region, r in self.results.items() if user is None or user.may_see(region)]

    def next_invoice(self) -> int:
        self.counter[0] += 1000
        return self.counter[0]


def build_world(mode: str, site: access.Site, seed: Path, workdir: Path) -> World:
    users = {}
    for label, spec in ROLES.items():
        if spec is None:
            continue
        role, regions = spec
        users[label] = site.add_user(label, role, regions, password=f"pw-{label}-Secret-42")
    server = site.start()
    response = access.upload_as(server, users["admin"].token, seed / "IN.csv", seed / "usa.csv")
    assert response.status == 200, (response.status, response.body[:2000])
    loaded = {u["region"]: u for u in support.uploads_of(response)}
    assert {r: u["status"] for r, u in loaded.items()} == {"IN": "loaded", "USA": "loaded"}, loaded
    results = {"IN": reference.load_file(str(seed / "IN.csv")), "USA": reference.load_file(str(seed / "usa.csv"))}
    return World(mode=mode, site=site, server=server, users=users, results=results,
                 upload_ids={r: u["id"] for r, u in loaded.items()}, routes=site.routes(), workdir=workdir)


@pytest.fixture(scope="module")
def embedded_world(seed, tmp_path_factory):
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    site = access.Site.create(access.local_auth(), prefix="matrix")
    try:
        yield build_world("embedded", site, seed, tmp_path_factory.mktemp("matrix-embedded"))
    finally:
        site.stop_all()


@pytest.fixture(scope="module")
def gcp_world(seed, tmp_path_factory):
    access.requires_emulators_or_fail()
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    # Bucket notifications on: without a valid push token every role gets 401 there.
    keys = push_support.Signer().write_keys(tmp_path_factory.mktemp("matrix-push-keys") / "certs.json")
    site = access.Site.create({**access.local_auth(), **push_support.events_settings(keys)}, gcp=True,
                              env=access.gcp_env("access"), prefix="matrix-gcp")
    try:
        yield build_world("gcp", site, seed, tmp_path_factory.mktemp("matrix-gcp"))
    finally:
        site.stop_all()


@pytest.fixture(params=["embedded", "gcp"])
def world(request) -> World:
    return request.getfixturevalue(f"{request.param}_world")


# --- probes: one request of a cell, and what it must answer --------------------------------

Check = Callable[[support.Response, User | None, World], list[str]]


@dataclass
class Probe:
    label: str
    method: str
    path: str
    args: tuple[str, ...] = ()
    region: str | None = None          # the one region the request names, if any
    ok_status: int | tuple[int, ...] = 200
    check: Check | None = None         # more checks of an allowed answer
    refused_only: bool = False         # would change the data if allowed: only sent to users it is refused to
    after_refusal: Callable[[World], list[str]] | None = None
    dual_region: bool = False          # ?region=IN&region=USA: 400 repeated_query_parameter, whoever asks


def json_body(response: support.Response) -> tuple[object, list[str]]:
    try:
        return response.json(), []
    except ValueError:
        return None, [f"not JSON: {response.body[:200]!r}"]


def figures_check(pattern: str, filters: dict) -> Check | None:
    """Compares a report answer with the reference over the user's regions."""
    def check(response, user, world):
        body, problems = json_body(response)
        if problems:
            return problems
        allowed = world.allowed(user)
        if pattern == "/api/report/summary":
            assert set(body) == support.SUMMARY_KEYS, body
            got = body
            want = reference.summary(allowed, **filters)
            got = {k: got.get(k) for k in want}
        elif pattern == "/api/report/timeseries":
            got, want = body.get("points"), reference.time_series(allowed, "month", **filters)
        elif pattern == "/api/report/breakdown":
            got, want = body.get("groups"), reference.breakdown(allowed, "region", 10, **filters)
        elif pattern == "/api/report/invoices":
            want = reference.invoices(allowed, **filters)
            got, want = (body.get("total"), body.get("invoices")), (len(want), want[:500])
        elif pattern == "/api/report/options":
            want = reference.options(allowed)
            got = {k: body.get(k) for k in want}
        else:
            return []
        return [] if got == want else [f"figures differ from the reference over {[r.region for r in allowed]}: "
                                       f"got {short(got)}, want {short(want)}"]
    return check if pattern in ("/api/report/summary", "/api/report/timeseries", "/api/report/breakdown",
                                "/api/report/invoices", "/api/report/options") else None


def short(value) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "…"


def check_me(response, user, world):
    body, problems = json_body(response)
    if problems:
        return problems
    want = {"user": user.name, "role": user.role, "regions": user.regions, "mode": "local"}
    got = {k: body.get(k) for k in want}
    return [] if got == want else [f"/api/me says {got}, want {want}"]


def check_history(response, user, world):
    body, problems = json_body(response)
    if problems:
        return problems
    records = body.get("uploads", [])
    regions = {r.get("region") for r in records}
    hidden = sorted(r for r in regions if not user.may_see(r or ""))
    if hidden:
        problems.append(f"the history shows uploads of regions {hidden}")
    ids = {r.get("id") for r in records}
    for region, upload_id in world.upload_ids.items():
        if user.may_see(region) and upload_id not in ids:
            problems.append(f"the history lacks the {region} seed upload")
    return problems


def check_record(upload_id: str, region: str) -> Check:
    def check(response, user, world):
        body, problems = json_body(response)
        if problems:
            return problems
        got = (body.get("id"), body.get("region"))
        return [] if got == (upload_id, region) else [f"record {got}, want {(upload_id, region)}"]
    return check


def check_invoice(invoice: dict) -> Check:
    def check(response, user, world):
        body, problems = json_body(response)
        if problems:
            return problems
        got = (body.get("region"), body.get("invoice_no"), body.get("revenue"))
        want = (invoice["region"], invoice["invoice_no"], invoice["revenue"])
        return [] if got == want else [f"invoice {got}, want {want}"]
    return check


def check_error(code: str) -> Check:
    def check(response, user, world):
        body, problems = json_body(response)
        if problems:
            return problems
        return [] if isinstance(body, dict) and body.get("error") == code else [f"error {body!r}, want {code}"]
    return check


def check_html(marker: str | None = None) -> Check:
    def check(response, user, world):
        problems = []
        if not response.headers.get("content-type", "").startswith("text/html"):
            problems.append(f"content type {response.headers.get('content-type')!r}")
        if marker and marker not in response.body.decode(errors="replace"):
            problems.append(f"no {marker!r} in the page")
        return problems
    return check


def check_login_page(response, user, world):
    """The form for somebody not signed in; a signed-in user may be sent on to a page of ours."""
    if response.status == 200:
        return check_html('id="login-form"')(response, user, world)
    if user is None:
        return [f"want the login form, got {response.status}"]
    location = strip_origin(response.headers.get("location", ""), world.server)
    return [] if location.startswith("/") and not location.startswith("//") else [f"Location {location!r}"]


def check_redirect_to_login(response, user, world):
    location = strip_origin(response.headers.get("location", ""), world.server)
    return [] if urllib.parse.urlsplit(location).path == "/login" else [f"Location {location!r}, want /login"]


def check_upload_status(*statuses: str) -> Check:
    def check(response, user, world):
        body, problems = json_body(response)
        if problems:
            return problems
        got = [(u.get("region"), u.get("status")) for u in body.get("uploads", [])]
        return [] if got and all(s in statuses for _, s in got) else [f"uploads {got}, want status {statuses}"]
    return check


def strip_origin(location: str, server: support.Server) -> str:
    for origin in (access.origin_of(server), f"http://localhost:{server.port}"):
        if location.startswith(origin):
            return location[len(origin):]
    return location


def refused_upload_left_nothing(content: bytes) -> Callable[[World], list[str]]:
    def after(world: World) -> list[str]:
        return access.nothing_stored(world.server, world.admin.token, content)
    return after


def with_query(path: str, params: list[tuple[str, str]]) -> str:
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def probes_for(route: dict, world: World) -> list[Probe] | str:
    """The requests of one route's cells, or why this module cannot make them."""
    method, pattern = route["method"], route["pattern"]
    names = [name for name, _ in PARAM.findall(pattern)]
    unknown = [n for n in names if n not in KNOWN_PARAMS]
    if unknown:
        return f"no way to fill {unknown} in {pattern}"

    if method == "GET":
        if "path" in names:
            if pattern.startswith("/api/"):
                path = PARAM.sub("no-such-route", pattern)
                return [Probe("unknown api path", method, path, ok_status=404, check=check_error("not_found"))]
            path = PARAM.sub("app.css", pattern)
            return [Probe("asset", method, path)]
        if "id" in names:
            probes = []
            for region in ("IN", "USA"):
                upload_id = world.upload_ids[region]
                probes.append(Probe(f"upload of {region}", method, PARAM.sub(upload_id, pattern), region=region,
                                    check=check_record(upload_id, region) if pattern == "/api/uploads/{id}" else None))
            return probes
        if "region" in names or "invoice" in names:
            if set(names) != {"region", "invoice"}:
                return f"no way to fill {names} in {pattern}"
            probes = []
            for region in ("IN", "USA"):
                invoice = reference.invoices([world.results[region]])[0]
                path = (pattern.replace("{region}", region)
                        .replace("{invoice}", urllib.parse.quote(invoice["invoice_no"], safe="")))
                probes.append(Probe(f"invoice of {region}", method, path, region=region, check=check_invoice(invoice)))
            return probes
        return get_probes(route, world)

    if method == "POST" and pattern == "/api/uploads":
        return upload_probes(world)
    if method == "POST" and pattern == "/login":
        args = ("-H", "Accept: application/json", "--data-urlencode", "username=nobody-at-all",
                "--data-urlencode", "password=not-the-password")
        return [Probe("bad credentials", method, pattern, args=args, ok_status=401,
                      check=check_error("bad_credentials"))]
    if method == "POST" and pattern == "/logout":
        return [Probe("sign out", method, pattern, args=("--data", ""), ok_status=303, check=check_redirect_to_login)]
    if method == "POST" and pattern == "/api/events/gcs":
        # A portal token is no push token: 401 for everybody where notifications are on (gcp);
        # 404 where they are off (embedded, which has no bucket).
        body = push_support.push_body("sales-uploads", "incoming/IN/IN.csv", 1)
        taken = world.mode == "gcp"
        return [Probe("a push without Google's token", method, pattern,
                      args=push_support.push_args(body, None)[2:], ok_status=401 if taken else 404,
                      check=check_error("unauthenticated" if taken else "not_found"))]
    if method == "DELETE" and pattern == "/api/uploads/{id}":
        return []  # test_retraction_cells: it changes the data
    return f"no probe for {method} {pattern}"


def get_probes(route: dict, world: World) -> list[Probe]:
    pattern, scope, kind = route["pattern"], route.get("regions"), route.get("kind")
    base = list(BASE_QUERY.get(pattern, {}).items())
    checks: dict[str, Check] = {
        "/api/me": check_me,
        "/api/uploads": check_history,
        "/login": check_login_page,
    }
    check = checks.get(pattern) or figures_check(pattern, {}) or (check_html() if kind == "page" else None)
    probes = [Probe("no filter", "GET", with_query(pattern, base), check=check,
                    ok_status=(200, 303) if pattern == "/login" else 200)]
    if scope != "query":
        return probes
    is_options = pattern == "/api/report/options"
    for value, region in (("IN", "IN"), ("USA", "USA"), ("usa", "USA")):
        probes.append(Probe(f"region={value}", "GET", with_query(pattern, base + [("region", value)]), region=region,
                            check=None if is_options else figures_check(pattern, {"region": value})))
    if not is_options:
        probes.append(Probe("country=USA, no region", "GET", with_query(pattern, base + [("country", "USA")]),
                            check=figures_check(pattern, {"country": "USA"})))
        probes.append(Probe("region=IN&region=USA", "GET",
                            with_query(pattern, base + [("region", "IN"), ("region", "USA")]),
                            dual_region=True))
    return probes


def upload_probes(world: World) -> list[Probe]:
    seed_in = support.seed_dir() / "IN.csv"
    probes = [Probe("IN.csv again", "POST", "/api/uploads", args=("-F", f"file=@{seed_in}"), region="IN",
                    check=check_upload_status("already_loaded"))]
    folder = world.workdir / f"uk-{world.next_invoice()}"
    folder.mkdir()
    uk_path, uk_bytes = access.unique_csv(folder, "UK.csv", world.next_invoice())
    probes.append(Probe("a UK file", "POST", "/api/uploads", args=("-F", f"file=@{uk_path}"), region="UK",
                        refused_only=True, after_refusal=refused_upload_left_nothing(uk_bytes)))
    folder = world.workdir / f"in-as-usa-{world.next_invoice()}"
    folder.mkdir()
    in_path, in_bytes = access.unique_csv(folder, "IN.csv", world.next_invoice())
    probes.append(Probe("IN.csv with region=USA", "POST", "/api/uploads",
                        args=("-F", f"file=@{in_path}", "-F", "region=USA"), region="USA",
                        refused_only=True, after_refusal=refused_upload_left_nothing(in_bytes)))
    return probes


# --- judging one cell ---------------------------------------------------------------

def expectation(route: dict, probe: Probe, user: User | None) -> str:
    """ok | unauthenticated | forbidden | region_forbidden | not_found."""
    role = user.role if user else "anonymous"
    if access.ROLES_RANK[role] < access.ACCESS_RANK[route["access"]]:
        return "unauthenticated" if user is None else "forbidden"
    if probe.region and user is not None and not user.may_see(probe.region):
        return "not_found" if route.get("regions") == "record" else "region_forbidden"
    return "ok"


def judge(route: dict, probe: Probe, user: User | None, world: World) -> list[str]:
    response = support.curl(world.server.url(probe.path), "-X", probe.method, *probe.args,
                            *access.bearer(user.token if user else None))
    want = expectation(route, probe, user)
    got = f"{response.status} {response.body[:200]!r}"
    problems: list[str] = []
    if probe.dual_region:
        # Which of two regions counts is not guessed: refused before anything else is looked at.
        if response.status != 400 or support.problem(response)[0] != "repeated_query_parameter":
            problems.append(f"want 400 repeated_query_parameter, got {got}")
        return problems
    if want == "ok":
        if response.status not in (probe.ok_status if isinstance(probe.ok_status, tuple) else (probe.ok_status,)):
            problems.append(f"want {probe.ok_status}, got {got}")
        elif probe.check:
            problems += probe.check(response, user, world)
    elif want == "unauthenticated":
        if route["kind"] == "page":
            location = strip_origin(response.headers.get("location", ""), world.server)
            parts = urllib.parse.urlsplit(location)
            next_path = urllib.parse.parse_qs(parts.query).get("next", [""])[0]
            if response.status != 303 or parts.path != "/login" or next_path != probe.path:
                problems.append(f"want 303 to /login?next={probe.path}, got {response.status} Location {location!r}")
        else:
            if response.status != 401:
                problems.append(f"want 401, got {got}")
            else:
                problems += check_error("unauthenticated")(response, user, world)
                if not response.headers.get("www-authenticate", "").startswith("Bearer"):
                    problems.append(f"WWW-Authenticate {response.headers.get('www-authenticate')!r}")
    elif want in ("forbidden", "region_forbidden"):
        if response.status != 403:
            problems.append(f"want 403 {want}, got {got}")
        elif route["kind"] == "api":
            problems += check_error(want)(response, user, world)
    elif want == "not_found":
        if response.status != 404:
            problems.append(f"want 404, got {got}")
    if want != "ok" and probe.after_refusal:
        problems += probe.after_refusal(world)
    return problems


# --- the tests ---------------------------------------------------------------------

def test_routes_describe_themselves(world):
    """`sales-portal routes` lists every route of the contract, each with valid fields,
    the access and region scoping the contract gives it, and a pattern this module can fill."""
    problems = []
    seen = {}
    for route in world.routes:
        key = (route.get("method"), route.get("pattern"))
        if key in seen:
            problems.append(f"{key} listed twice")
        seen[key] = route
        if route.get("access") not in access.ACCESS_RANK:
            problems.append(f"{key}: access {route.get('access')!r}")
        if route.get("kind") not in KINDS:
            problems.append(f"{key}: kind {route.get('kind')!r}")
        if route.get("regions") not in SCOPES:
            problems.append(f"{key}: regions {route.get('regions')!r}")
        if route.get("kind") == "asset" and route.get("access") != "public":
            problems.append(f"{key}: a static asset must be open to all, is {route.get('access')!r}")
        if key in CONTRACT:
            want_access, want_scope = CONTRACT[key]
            if route.get("access") != want_access:
                problems.append(f"{key}: access {route.get('access')!r}, the contract says {want_access!r}")
            if want_scope is not None and route.get("regions") != want_scope:
                problems.append(f"{key}: regions {route.get('regions')!r}, the contract says {want_scope!r}")
        probes = probes_for(route, world)
        if isinstance(probes, str):
            problems.append(f"{key}: {probes}")
    for key in REQUIRED_ROUTES:
        if key not in seen:
            problems.append(f"{key} is not listed")
    for page in ("/", "/dashboard"):
        if seen.get(("GET", page), {}).get("kind") != "page":
            problems.append(f"GET {page} is not listed as a page")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("label", list(ROLES))
def test_cells(world, label):
    """Every route, as this role, with its region cases: the status (and error code, and
    redirect) the contract gives, and for reports the reference's figures over the role's regions."""
    user = world.users.get(label)
    problems = []
    cells = 0
    for route in world.routes:
        probes = probes_for(route, world)
        if isinstance(probes, str):
            problems.append(f"{route['method']} {route['pattern']}: {probes}")
            continue
        for probe in probes:
            if probe.refused_only and expectation(route, probe, user) == "ok":
                continue
            cells += 1
            for problem in judge(route, probe, user, world):
                problems.append(f"{probe.method} {probe.path} [{probe.label}] as {label}: {problem}")
    assert cells >= 20, f"only {cells} cells were tried: is the route table complete?"
    assert not problems, f"{len(problems)} of {cells} cells are wrong ({world.mode}):\n" + "\n".join(problems)


def test_reports_without_a_filter_cover_only_the_users_regions(world):
    """The headline case, on its own: a viewer of IN gets IN's numbers without a filter,
    a 403 for USA, and everybody's numbers come from the same rows."""
    viewer = world.users["viewer-in"]
    got = access.summary_as(world.server, viewer.token)
    assert got == reference.summary([world.results["IN"]])
    response = support.get(world.server, "/api/report/summary?region=USA", *access.bearer(viewer.token))
    assert response.status == 403, (response.status, response.body)
    assert response.json()["error"] == "region_forbidden"
    everything = access.summary_as(world.server, world.users["viewer-all"].token)
    assert everything == reference.summary(list(world.results.values()))
    assert everything != got


def test_retraction_cells(world):
    """DELETE /api/uploads/{id}: admin any upload, an uploader its own; a viewer 403, an
    upload of another user 403, of another region 404, nobody signed in 401. Runs last in
    the module: it adds two uploads and retracts them again."""
    if not any(r["method"] == "DELETE" and r["pattern"] == "/api/uploads/{id}" for r in world.routes):
        pytest.skip("the server lists no DELETE /api/uploads/{id}")
    server, users = world.server, world.users
    folder = world.workdir / "retract"
    folder.mkdir(exist_ok=True)
    own_path, _ = access.unique_csv(folder, "IN.csv", world.next_invoice())
    response = access.upload_as(server, users["uploader-in"].token, own_path)
    assert response.status == 200, (response.status, response.body)
    own_id = support.uploads_of(response)[0]["id"]
    uk_folder = folder / "uk"
    uk_folder.mkdir(exist_ok=True)
    uk_path, _ = access.unique_csv(uk_folder, "UK.csv", world.next_invoice())
    response = access.upload_as(server, world.admin.token, uk_path)
    assert response.status == 200, (response.status, response.body)
    uk_id = support.uploads_of(response)[0]["id"]

    cells = [
        (None, own_id, {401}),
        ("viewer-in", own_id, {403}),
        ("viewer-all", own_id, {403}),
        ("uploader-in", world.upload_ids["USA"], {404}),
        ("uploader-in", uk_id, {404}),
        ("uploader-in", world.upload_ids["IN"], {403}),
        ("uploader-in", own_id, {200, 204}),
        ("admin", uk_id, {200, 204}),
    ]
    problems = []
    for label, upload_id, statuses in cells:
        token = users[label].token if label else None
        response = support.curl(server.url(f"/api/uploads/{upload_id}"), "-X", "DELETE", *access.bearer(token))
        if response.status not in statuses:
            problems.append(f"DELETE {upload_id} as {label or 'anonymous'}: want {statuses}, "
                            f"got {response.status} {response.body[:200]!r}")
    for upload_id in (own_id, uk_id):
        record = support.get(server, f"/api/uploads/{upload_id}", *access.bearer(world.admin.token))
        if record.status != 200 or record.json().get("status") != "retracted":
            problems.append(f"upload {upload_id} after retraction: {record.status} {record.body[:200]!r}")
    for upload_id in world.upload_ids.values():
        record = support.get(server, f"/api/uploads/{upload_id}", *access.bearer(world.admin.token))
        if record.status != 200 or record.json().get("status") == "retracted":
            problems.append(f"seed upload {upload_id} changed: {record.status} {record.body[:200]!r}")
    everything = access.summary_as(server, world.admin.token)
    if everything != reference.summary(list(world.results.values())):
        problems.append(f"after the retractions the summary is {everything}, want the seed's")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mode", ["embedded", "gcp"])
def test_new_rows_reach_everybody_after_a_user_of_some_regions_asked(mode, seed):
    """Answers are not stuck on what was loaded when a user of some regions first asked:
    a viewer of IN opens every report on an empty warehouse, an admin loads the seed files,
    and then the viewer sees IN's figures and the admin sees both uploads and all figures."""
    env = None
    if mode == "gcp":
        access.requires_emulators_or_fail()
        env = access.gcp_env("fresh-access")
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    site = access.Site.create(access.local_auth(), gcp=mode == "gcp", env=env, prefix="fresh-rows")
    try:
        viewer = site.add_user("viewer-in", "viewer", ["IN"])
        admin = site.add_user("admin", "admin", ["*"])
        server = site.start()
        for path in ("/api/report/options", "/api/report/summary", "/api/report/timeseries",
                     "/api/report/breakdown?by=region", "/api/report/invoices", "/api/uploads"):
            response = support.get(server, path, *access.bearer(viewer.token))
            assert response.status == 200, (path, response.status, response.body)
        response = access.upload_as(server, admin.token, seed / "IN.csv", seed / "usa.csv")
        assert response.status == 200, (response.status, response.body[:500])
        results = {"IN": reference.load_file(str(seed / "IN.csv")), "USA": reference.load_file(str(seed / "usa.csv"))}
        history = [(u["region"], u["status"]) for u in access.history_as(server, admin.token)]
        assert sorted(history) == [("IN", "loaded"), ("USA", "loaded")], \
            f"the admin's history after the upload: {history}; access log: {server.stdout_lines[-4:]}"
        assert access.summary_as(server, admin.token) == reference.summary(list(results.values()))
        assert access.summary_as(server, viewer.token) == reference.summary([results["IN"]])
        options = support.get(server, "/api/report/options", *access.bearer(viewer.token)).json()
        assert options["regions"] == ["IN"], options
    finally:
        site.stop_all()
