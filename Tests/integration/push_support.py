"""Pub/Sub's side of bucket notifications, for the tests of `POST /api/events/gcs`: an RSA
key standing in for Google's, its JWK set file (gcsEvents.keysFile), RS256 ID tokens signed
with it, and push bodies shaped as Pub/Sub sends them."""
from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import support

AUDIENCE = "https://sales.example.com/api/events/gcs"
PUSH_ACCOUNT = "pubsub-push@test-project.iam.gserviceaccount.com"
KEY_ID = "push-test-key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """An RSA key pair; its public half is written as a JWK set file."""

    def __init__(self, key_id: str = KEY_ID):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key_id = key_id
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        numbers = self.private.public_key().public_numbers()
        def unsigned(value: int) -> bytes:
            return value.to_bytes((value.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.key_id,
                "n": b64url(unsigned(numbers.n)), "e": b64url(unsigned(numbers.e))}

    def write_keys(self, path: Path) -> Path:
        path.write_text(json.dumps({"keys": [self.jwk()]}))
        return path

    def token(self, audience: str = AUDIENCE, email: str = PUSH_ACCOUNT, lifetime: int = 3600, **claims) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        body = {"iss": "https://accounts.google.com", "aud": audience, "azp": "111", "sub": "111",
                "email": email, "email_verified": True, "iat": now, "exp": now + lifetime, **claims}
        header = {"alg": "RS256", "kid": self.key_id, "typ": "JWT"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return support.used_secret(f"{signing_input}.{b64url(signature)}")


def events_settings(keys_file: Path, **changes) -> dict:
    """The `gcsEvents` section of a test's configuration."""
    settings = {"enabled": True, "audience": AUDIENCE, "serviceAccount": PUSH_ACCOUNT, "keysFile": str(keys_file),
                "objectPattern": "incoming/{region}/{name}"}
    settings.update(changes)
    return {"gcsEvents": settings}


def push_body(bucket: str, name: str, generation: str | int, size: int = 0,
              event_type: str = "OBJECT_FINALIZE") -> bytes:
    """A push as Pub/Sub sends it for a Cloud Storage notification (payload format JSON_API_V1)."""
    resource = {"kind": "storage#object", "id": f"{bucket}/{name}/{generation}", "name": name, "bucket": bucket,
                "generation": str(generation), "size": str(size), "contentType": "text/csv"}
    message = {
        "attributes": {"eventType": event_type, "bucketId": bucket, "objectId": name,
                       "objectGeneration": str(generation), "payloadFormat": "JSON_API_V1",
                       "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
                       "eventTime": "2026-03-01T10:00:00.000000Z"},
        "data": base64.b64encode(json.dumps(resource).encode()).decode(),
        "messageId": str(uuid.uuid4().int % 10**16), "message_id": "",
        "publishTime": "2026-03-01T10:00:00.123Z",
    }
    message["message_id"] = message["messageId"]
    return json.dumps({"message": message, "subscription": "projects/test-project/subscriptions/sales-drops"}).encode()


def push_args(body: bytes, token: str | None) -> tuple[str, ...]:
    """curl arguments of a push (POST, JSON body, the ID token when given)."""
    args = ("-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body.decode())
    return args + (("-H", f"Authorization: Bearer {token}") if token else ())
