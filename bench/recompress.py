#!/usr/bin/env python3
"""The url-form QR texts of a file with each token's COSE message
compressed again by zlib at level 1: the same signed message in other
bytes than the stored token's, which verify's fast path does not take
(docs/design.md, "Verify's fast path").  Used for the verify_full
scenario (run.sh, profile.sh).

usage: recompress.py QR-URL-FILE [N]   (N: the first N lines only)"""
import base64
import sys
import zlib

limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
with open(sys.argv[1], encoding="ascii") as f:
    for i, line in enumerate(f):
        if limit is not None and i >= limit:
            break
        head, tok = line.strip().rsplit("/v/", 1)
        z = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        again = zlib.compress(zlib.decompress(z), 1)
        if again == z:
            sys.exit("zlib level 1 gave the stored bytes")
        print(head + "/v/" + base64.urlsafe_b64encode(again).rstrip(b"=").decode())
