"""Token encodings for the end-to-end tests, computed here (not by certsvc):
base64url, Base45 (RFC 9285), the bare token (base64url of the zlib stream
of a COSE_Sign1), the compact QR text ("EL1:" + Base45), tokens altered
after signing, a token's COSE_Sign1 taken apart and put together again,
and COSE_Sign1 messages signed with a deployment's own ES256 key (forged
tokens whose signature is nevertheless genuine).

The one home of these helpers: tests/lib/cshttp.py, independent.py and the
tests import them from here."""
import base64
import glob
import os
import zlib

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b64url_encode(data):
    """base64url without padding (RFC 4648 §5), as text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    """The bytes of unpadded (or padded) base64url text."""
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def base45(data):
    """RFC 9285 Base45 (for the compact QR form, computed here)."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [B45[n % 45], B45[n // 45 % 45], B45[n // 2025]]
    if len(data) % 2:
        out += [B45[data[-1] % 45], B45[data[-1] // 45]]
    return "".join(out)


def b45_decode(s):
    """The bytes of RFC 9285 Base45 text."""
    out = bytearray()
    for i in range(0, len(s), 3):
        chunk = [B45.index(c) for c in s[i:i + 3]]
        n = sum(v * 45 ** k for k, v in enumerate(chunk))
        if len(chunk) == 3:
            out += n.to_bytes(2, "big")
        else:
            out.append(n)
    return bytes(out)


def token_bytes(token):
    """The COSE bytes of a bare base64url token."""
    return zlib.decompress(b64url_decode(token))


def token_of(cose):
    """The bare token of COSE bytes: base64url of their zlib stream (level 9)."""
    return b64url_encode(zlib.compress(cose, 9))


def compact_text(token):
    """The compact QR text ("EL1:" + Base45(zlib(cose))) of a bare token."""
    return "EL1:" + base45(zlib.compress(token_bytes(token), 9))


def tamper_signature(token):
    """The token with one bit of its signature flipped (the signature is the
    last CBOR byte string of the COSE_Sign1, so its last byte)."""
    raw = bytearray(token_bytes(token))
    raw[-1] ^= 1
    return token_of(bytes(raw))


def tamper_payload(token, old, new):
    """The token with a byte sequence of its payload replaced (same length)."""
    raw = token_bytes(token)
    assert len(old) == len(new) and old in raw
    return token_of(raw.replace(old, new, 1))


def cose_bytes(text):
    """The COSE_Sign1 bytes of a QR text (either form) or a bare token."""
    if text.startswith("EL1:"):
        return zlib.decompress(b45_decode(text[4:]))
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1]
    return token_bytes(text)


def cose_parts(text):
    """[protected, unprotected, payload, signature] of the COSE_Sign1 of a
    QR text (either form) or a bare token."""
    import cbor2
    return cbor2.loads(cose_bytes(text)).value


def cose(parts, tag=18):
    """The COSE bytes of [protected, unprotected, payload, signature]: a
    COSE_Sign1 (tag 18), another tag, or no tag (tag None)."""
    import cbor2
    return cbor2.dumps(cbor2.CBORTag(tag, list(parts)) if tag else list(parts))


# --- signing with the deployment's own key ------------------------------------

def signing_key(keys_dir):
    """The (first) ES256 private key of a key directory."""
    from cryptography.hazmat.primitives import serialization
    with open(glob.glob(os.path.join(keys_dir, "*.key"))[0], "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def es256(key, prot_b, payload_b, der=False):
    """A COSE ES256 signature with key over (protected, payload): raw r||s
    unless der."""
    import cbor2
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    d = key.sign(cbor2.dumps(["Signature1", prot_b, b"", payload_b]), ec.ECDSA(hashes.SHA256()))
    if der:
        return d
    r_, s_ = decode_dss_signature(d)
    return r_.to_bytes(32, "big") + s_.to_bytes(32, "big")


def sign1(key, prot_b, payload_b, unprot=None, der=False, tag=18):
    """The COSE bytes of (protected, payload) signed with key (ES256):
    whatever the headers and claims say, the signature over them is
    genuine."""
    return cose([prot_b, unprot or {}, payload_b, es256(key, prot_b, payload_b, der)], tag)
