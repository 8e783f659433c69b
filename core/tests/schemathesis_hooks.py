"""schemathesis hooks for core/tests/openapi.rs: a generated request to a kiosk endpoint that
carries the three kiosk headers is signed as the registered kiosk signs (Kiosk-Signature over
KS1, method, path, key, kiosk id and the body's SHA-256; an audit head's head_signature too),
so generated bodies reach the envelope and payload checks behind the signature. Requests
without those headers stay as generated.

The environment's schemathesis has no crypto package beside it: Ed25519 signing (RFC 8032) is
written out below; it is checked against the registered public key before anything is sent.
"""

import base64
import hashlib
import json
import os
import uuid

import schemathesis

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e1 = (y1 - x1) * (y2 - x2) % P
    e2 = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, point):
    acc = (0, 1, 1, 0)
    while s:
        if s & 1:
            acc = _add(acc, point)
        point = _add(point, point)
        s >>= 1
    return acc


def _encode(point):
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _base():
    y = 4 * pow(5, P - 2, P) % P
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x & 1:
        x = P - x
    return (x, y, 1, x * y % P)


B = _base()


def _secret(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(seed):
    return _encode(_mul(_secret(seed)[0], B))


def sign(seed, message):
    a, prefix = _secret(seed)
    pub = _encode(_mul(a, B))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    big_r = _encode(_mul(r, B))
    k = int.from_bytes(hashlib.sha512(big_r + pub + message).digest(), "little") % L
    return big_r + ((r + k * a) % L).to_bytes(32, "little")


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


SEED = bytes.fromhex(os.environ["KIOSK_TEST_SEED_HEX"])
KIOSK = os.environ["KIOSK_TEST_KIOSK_ID"]
BASE = os.environ.get("KIOSK_TEST_BASE_PATH", "")
if public_key(SEED).hex() != os.environ["KIOSK_TEST_PUBLIC_HEX"]:
    raise SystemExit("schemathesis_hooks: Ed25519 public key differs from the registered one")
SIGNED = {"/v1/kiosk-messages": "message_id", "/v1/kiosk-audit-heads": "anchor_id"}
HEADERS = ("Idempotency-Key", "Kiosk-Id", "Kiosk-Signature")


@schemathesis.hook
def before_call(context, case, kwargs):
    id_field = SIGNED.get(case.operation.path)
    headers = dict(case.headers or {})
    if id_field is None or not all(h in headers for h in HEADERS):
        return
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        raw, key = bytes(body), str(uuid.uuid4())
    else:
        try:
            if isinstance(body, dict):
                body = dict(body)
                given = body.get(id_field)
                try:
                    key = str(uuid.UUID(given)) if isinstance(given, str) else str(uuid.uuid4())
                except ValueError:
                    key = str(uuid.uuid4())
                body[id_field] = key
                body["kiosk_id"] = KIOSK
                seq, head, at = body.get("seq"), body.get("head"), body.get("anchored_at_ms")
                if id_field == "anchor_id" and isinstance(seq, int) and isinstance(head, str) and isinstance(at, int):
                    body["head_signature"] = b64url(sign(SEED, f"KA1\n{KIOSK}\n{seq}\n{head}\n{at}".encode()))
            else:
                key = str(uuid.uuid4())
            raw = json.dumps(body, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            # Not JSON-encodable as generated (e.g. binary): leave the case unsigned.
            return
    digest = hashlib.sha256(raw).hexdigest()
    message = f"KS1\nPOST\n{BASE}{case.operation.path}\n{key}\n{KIOSK}\n{digest}".encode()
    headers.update({"Idempotency-Key": key, "Kiosk-Id": KIOSK, "Kiosk-Signature": b64url(sign(SEED, message))})
    case.headers = headers
    case.body = raw
