"""Mode iap (README.md, "Cloud Run behind Identity-Aware Proxy"): behind Identity-Aware Proxy the server trusts
only a valid ES256 `x-goog-iap-jwt-assertion`. The test makes its own P-256 keys, writes
them as the JWK set of auth.iapKeysFile, and signs assertions: a valid one signs in the
user whose name is the email (any case); an unknown email is 403; an expired one, another
audience or issuer, another key under the same kid, an unknown kid, `alg: none`, HS256
signed with the public key, a changed payload, garbage or no header at all are 401."""
from __future__ import annotations

import base64
import json
import time

import pytest

import access_support as access
import support

AUDIENCE = "/projects/123456789/global/backendServices/987654321"
ISSUER = "https://cloud.google.com/iap"
HEADER = "x-goog-iap-jwt-assertion"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1())


def jwk(key, kid: str) -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big"))}


def encode(header: dict, claims: dict) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())


def sign(key, claims: dict, kid: str, alg: str = "ES256") -> str:
    """A compact JWS: ES256 with the raw 64-byte r‖s signature JWS asks for."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    signing_input = encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims)
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def claims(email: str, **changes) -> dict:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now - 10, "exp": now + 600, "email": email,
            "sub": "accounts.google.com:1234567890"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture(scope="module")
def keys():
    return {"k1": new_key(), "k2": new_key()}


@pytest.fixture(scope="module")
def site(keys):
    if not access.binary_has_access_control():
        pytest.fail(f"{support.binary_path()} has no `users` command")
    here = access.Site.create({"auth": {"mode": "iap", "iapAudience": AUDIENCE}}, prefix="iap")
    keys_file = here.root / "iap-keys.json"
    keys_file.write_text(json.dumps({"keys": [jwk(key, kid) for kid, key in keys.items()]}))
    here.config = access.write_config(here.root, {"auth": {"mode": "iap", "iapAudience": AUDIENCE,
                                                           "iapKeysFile": str(keys_file)}})
    here.add_user("alice@example.com", "viewer", ["IN"], token_label=None)
    here.add_user("boss@example.com", "admin", ["*"], token_label=None)
    here.start()
    yield here
    here.stop_all()


@pytest.fixture(scope="module")
def server(site):
    return site.servers[0]


def me(server, assertion: str | None) -> support.Response:
    args = ("-H", f"{HEADER}: {assertion}") if assertion is not None else ()
    return support.get(server, "/api/me", *args)


def test_a_valid_assertion_signs_in_the_user_of_its_email(server, keys):
    response = me(server, sign(keys["k1"], claims("alice@example.com"), "k1"))
    assert response.status == 200, (response.status, response.body)
    body = response.json()
    assert (body["user"], body["role"], body["regions"], body["mode"]) == ("alice@example.com", "viewer", ["IN"], "iap")
    # Either key of the set will do.
    response = me(server, sign(keys["k2"], claims("boss@example.com"), "k2"))
    assert response.status == 200, (response.status, response.body)
    assert response.json()["role"] == "admin"


def test_the_email_is_matched_in_any_case(server, keys):
    response = me(server, sign(keys["k1"], claims("Alice@EXAMPLE.com"), "k1"))
    assert response.status == 200, (response.status, response.body)
    assert response.json()["user"].lower() == "alice@example.com"


def test_the_users_regions_hold_behind_the_proxy(server, keys):
    assertion = sign(keys["k1"], claims("alice@example.com"), "k1")
    args = ("-H", f"{HEADER}: {assertion}")
    refused = support.get(server, "/api/report/summary?region=USA", *args)
    assert refused.status == 403 and refused.json()["error"] == "region_forbidden", (refused.status, refused.body)
    assert support.get(server, "/api/report/summary?region=IN", *args).status == 200
    upload = support.curl(server.url("/api/uploads"), "-F", "file=@/dev/null;filename=IN.csv", *args)
    assert upload.status == 403 and upload.json()["error"] == "forbidden", (upload.status, upload.body)


def test_an_unknown_email_is_forbidden(server, keys):
    response = me(server, sign(keys["k1"], claims("stranger@example.com"), "k1"))
    assert response.status == 403, (response.status, response.body)
    assert response.json()["error"] == "forbidden"


def tampered(assertion: str) -> str:
    """The same signature over a payload that names somebody else."""
    header, payload, signature = assertion.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["email"] = "boss@example.com"
    return ".".join([header, b64url(json.dumps(body).encode()), signature])


def hs256_with_public_key(key, kid: str) -> str:
    """HS256 keyed with the public key's bytes: the old algorithm-confusion trick."""
    import hashlib
    import hmac
    from cryptography.hazmat.primitives import serialization
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = encode({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims("boss@example.com"))
    return signing_input + "." + b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())


def refused_assertions(keys) -> dict[str, str | None]:
    now = int(time.time())
    valid = sign(keys["k1"], claims("boss@example.com"), "k1")
    return {
        "expired": sign(keys["k1"], claims("boss@example.com", iat=now - 7200, exp=now - 3600), "k1"),
        "another audience": sign(keys["k1"], claims("boss@example.com", aud="/projects/1/apps/other"), "k1"),
        "another issuer": sign(keys["k1"], claims("boss@example.com", iss="https://evil.example/iap"), "k1"),
        "no expiry": sign(keys["k1"], claims("boss@example.com", exp=None), "k1"),
        "another key, same kid": sign(new_key(), claims("boss@example.com"), "k1"),
        "the other key's kid": sign(keys["k2"], claims("boss@example.com"), "k1"),
        "unknown kid": sign(keys["k1"], claims("boss@example.com"), "k9"),
        "alg none": encode({"alg": "none", "kid": "k1", "typ": "JWT"}, claims("boss@example.com")) + ".",
        "alg none with the valid signature": encode({"alg": "none", "kid": "k1"}, claims("boss@example.com"))
                                             + "." + valid.split(".")[2],
        "HS256 keyed with the public key": hs256_with_public_key(keys["k1"], "k1"),
        "payload changed after signing": tampered(sign(keys["k1"], claims("alice@example.com"), "k1")),
        "signature cut short": valid[:-10],
        "two parts": ".".join(valid.split(".")[:2]),
        "garbage": "not-a-jwt",
        "empty": "",
        "missing header": None,
    }


@pytest.mark.parametrize("case", list(refused_assertions({"k1": new_key(), "k2": new_key()})))
def test_a_bad_or_missing_assertion_is_401(server, keys, case):
    assertion = refused_assertions(keys)[case]
    response = me(server, assertion)
    assert response.status == 401, (case, response.status, response.body)
    assert response.json()["error"] == "unauthenticated", response.body
    report = support.get(server, "/api/report/summary", *(("-H", f"{HEADER}: {assertion}") if assertion else ()))
    assert report.status == 401, (case, report.status, report.body)


def test_a_password_login_does_not_stand_in_for_the_proxy(server):
    """In mode iap the proxy's assertion is the only way in: no password login."""
    response = access.login(server, "boss@example.com", "anything", json_answer=True)
    assert response.status != 200 and not access.session_cookie_value(response), (response.status, response.body)
    assert me(server, None).status == 401
