#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the S3 SigV4 vectors of this directory with botocore's S3SigV4Auth.

botocore (the AWS SDK for Python) is the reference signer here: its S3 signer
encodes an S3 path once and does not normalize it, as the AWS documentation
says. Usage: make-vectors.py [OUTDIR] (default: this script's directory).
Each case is OUTDIR/<name>/{req,creq,sts,authz}, in the format of the AWS
test suite (no trailing newline), signed with the suite's credentials for
region us-east-1, service s3, at 20150830T123600Z.
"""
import datetime
import os
import sys
from unittest import mock

import botocore.auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = datetime.datetime(2015, 8, 30, 12, 36, 0)
HOST = "examplebucket.s3.amazonaws.com"

# name, method, request target (path as sent, already URL-encoded), body
CASES = [
    ("s3-get-space", "GET", "/photos/my%20cat.jpg", b""),
    ("s3-get-plus", "GET", "/a%2Bb/c%2Cd%3De.txt", b""),
    ("s3-get-utf8", "GET", "/%E1%88%B4/caf%C3%A9.txt", b""),
    ("s3-get-dots", "GET", "/photos/./x//y/../z", b""),
    ("s3-put-space", "PUT", "/my%20dir/hello%20world.txt", b"Hello, S3!"),
]


def sign(method, target, body):
    req = AWSRequest(method=method, url="https://" + HOST + target, data=body)
    req.headers["Host"] = HOST
    auth = S3SigV4Auth(CREDS, "s3", "us-east-1")
    # the clock: botocore >= 1.31 asks get_current_datetime, older ones utcnow
    if hasattr(botocore.auth, "get_current_datetime"):
        clock = mock.patch("botocore.auth.get_current_datetime", return_value=WHEN)
    else:
        clock = mock.patch("botocore.auth.datetime")
    with clock as c:
        if not hasattr(botocore.auth, "get_current_datetime"):
            c.datetime.utcnow.return_value = WHEN
        auth.add_auth(req)
    authz = req.headers["Authorization"]
    # the intermediate steps as add_auth saw them (before Authorization was added)
    del req.headers["Authorization"]
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    assert authz.endswith("Signature=" + auth.signature(sts, req)), "botocore disagrees with itself"
    assert req.headers["X-Amz-Date"] == "20150830T123600Z", req.headers["X-Amz-Date"]
    return req, creq, sts, authz


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, method, target, body in CASES:
        req, creq, sts, authz = sign(method, target, body)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        # the request as sent, with the headers botocore signed (no Authorization)
        lines = ["%s %s HTTP/1.1" % (method, target), "Host:" + HOST]
        for k in ("X-Amz-Date", "X-Amz-Content-SHA256"):
            lines.append("%s:%s" % (k, req.headers[k]))
        text = "\n".join(lines) + "\n\n"
        with open(os.path.join(d, "req"), "wb") as f:
            f.write(text.encode() + body)
        for fname, value in (("creq", creq), ("sts", sts),
                             ("authz", authz)):
            with open(os.path.join(d, fname), "w") as f:
                f.write(value)


if __name__ == "__main__":
    main()
