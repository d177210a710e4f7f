"""An independent verifier of certsvc tokens, for cross-checking.

It shares no code with certsvc: cbor2 decodes, python3-cryptography checks
ES256 and Ed25519, and SM2-with-SM3 (which python3-cryptography lacks) is
checked here from the GB/T 32918 equations, with hashlib's SM3 (OpenSSL).
Keys come only from the exported trust list (a JWK Set).  Its base64url and
Base45 decoders, and cose_bytes (a QR text or token to its COSE_Sign1), are
the tests' own (tests/lib/cstoken.py), not certsvc's.
"""
import hashlib

import cbor2
from cstoken import b64url_decode, b64url_encode, cose_bytes
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SM2_ID = b"1234567812345678"
# GB/T 32918.5 recommended curve parameters.
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
SM2_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0


def _sm2_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % SM2_P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + SM2_A) * pow(2 * y1, -1, SM2_P) % SM2_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, SM2_P) % SM2_P
    x3 = (lam * lam - x1 - x2) % SM2_P
    return x3, (lam * (x1 - x3) - y1) % SM2_P


def _sm2_mul(k, pt):
    acc = None
    while k:
        if k & 1:
            acc = _sm2_add(acc, pt)
        pt = _sm2_add(pt, pt)
        k >>= 1
    return acc


def sm2_verify(x, y, msg, sig):
    """GB/T 32918.2 verification with the user ID of SPEC §4."""
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (1 <= r < SM2_N and 1 <= s < SM2_N):
        return False
    entl = (len(SM2_ID) * 8).to_bytes(2, "big")
    z = hashlib.new("sm3", entl + SM2_ID + b"".join(
        v.to_bytes(32, "big") for v in (SM2_A, SM2_B, SM2_GX, SM2_GY, x, y))).digest()
    e = int.from_bytes(hashlib.new("sm3", z + msg).digest(), "big")
    t = (r + s) % SM2_N
    if t == 0:
        return False
    pt = _sm2_add(_sm2_mul(s, (SM2_GX, SM2_GY)), _sm2_mul(t, (x, y)))
    return pt is not None and (e + pt[0]) % SM2_N == r


def verify(text, jwks):
    """Return (ok, reason, claims) for a QR text or token and a JWK Set."""
    try:
        cose = cose_bytes(text)
    except Exception as e:  # noqa: BLE001 - any decoding failure is "malformed"
        return False, "malformed: %s" % e, None
    return verify_cose(cose, jwks)


def verify_cose(cose, jwks):
    """Return (ok, reason, payload decoded) for the bytes of a COSE_Sign1
    message (a token's, or a status list's, SPEC §11) and a JWK Set."""
    try:
        msg = cbor2.loads(cose)
    except Exception as e:  # noqa: BLE001 - any decoding failure is "malformed"
        return False, "malformed: %s" % e, None
    if not isinstance(msg, cbor2.CBORTag) or msg.tag != 18:
        return False, "malformed: not tag 18", None
    prot_b, _unprot, payload, sig = msg.value
    prot = cbor2.loads(prot_b) if prot_b else {}
    kid = b64url_encode(prot.get(4, b""))
    key = next((k for k in jwks["keys"] if k["kid"] == kid), None)
    if key is None:
        return False, "unknown_key", None
    alg = {-7: "ES256", -8: "EdDSA", -65537: "SM2"}.get(prot.get(1))
    if alg != key["alg"]:
        return False, "alg mismatch", None
    tbs = cbor2.dumps(["Signature1", prot_b, b"", payload])
    x = b64url_decode(key["x"])
    try:
        if alg == "ES256":
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(b64url_decode(key["y"]), "big"),
                ec.SECP256R1()).public_key()
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
        elif alg == "EdDSA":
            ed25519.Ed25519PublicKey.from_public_bytes(x).verify(sig, tbs)
        elif not sm2_verify(int.from_bytes(x, "big"),
                            int.from_bytes(b64url_decode(key["y"]), "big"), tbs, sig):
            raise InvalidSignature()
    except InvalidSignature:
        return False, "invalid_signature", None
    return True, "valid", cbor2.loads(payload)
