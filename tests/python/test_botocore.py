# SPDX-License-Identifier: BSD-2-Clause
"""contrib/python/tpmtrust_botocore.py against botocore's own SigV4, offline.

For fixed credentials, time and requests (S3 GET/PUT, an S3 presigned URL,
STS, DynamoDB), a client whose secret is only in the TPM (kDate through
PKCS#11) must produce exactly the Authorization header (or URL) of a plain
botocore client given the secret itself; a plain client given the placeholder
must not. Requests are caught before they are sent.
Run by tests/integration/botocore.sh: python3 test_botocore.py MODULE TOKEN PIN
"""

import datetime
import os
import sys
from unittest import mock

import botocore.auth
import botocore.session
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "python"))
import tpmtrust_botocore  # noqa: E402

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # the AWS documentation's
PLACEHOLDER = "held-in-the-tpm"


class Fixed(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(2015, 8, 30, 12, 36, 0)


class Caught(Exception):
    pass


def client(service, secret, kdate=None):
    session = botocore.session.get_session()
    if kdate is not None:
        tpmtrust_botocore.install(session, kdate)
    # S3 presigned URLs are SigV2 by default in botocore 1.29: ask for SigV4
    config = Config(signature_version="s3v4") if service == "s3" else None
    c = session.create_client(
        service, region_name="us-east-1", aws_access_key_id=AKID, aws_secret_access_key=secret,
        config=config,
    )

    def catch(request, **kwargs):
        raise Caught(request.headers.get("Authorization").decode())

    c.meta.events.register("before-send", catch)
    return c


CALLS = [
    ("s3", lambda c: c.get_object(Bucket="examplebucket", Key="photos/my cat.jpg")),
    ("s3", lambda c: c.put_object(Bucket="examplebucket", Key="test$file.text",
                                  Body=b"Welcome to Amazon S3.")),
    ("s3", lambda c: c.list_objects_v2(Bucket="examplebucket", Prefix="J", MaxKeys=2)),
    ("sts", lambda c: c.get_caller_identity()),
    ("dynamodb", lambda c: c.list_tables(Limit=3)),
]


def authorization(service, secret, kdate, call):
    try:
        call(client(service, secret, kdate))
    except Caught as e:
        return str(e.args[0])
    raise AssertionError("the request was not caught")


def main():
    module, token, pin = sys.argv[1:4]
    kdate = tpmtrust_botocore.TpmKDate(token=token, pin=pin, module=module)
    calls = []
    real = kdate.__call__

    def counting(date):
        calls.append(date)
        return real(date)

    failed = 0
    with mock.patch.object(botocore.auth.datetime, "datetime", Fixed):
        for i, (service, call) in enumerate(CALLS):
            tpm = authorization(service, PLACEHOLDER, counting, call)
            want = authorization(service, SECRET, None, call)
            wrong = authorization(service, PLACEHOLDER, None, call)
            ok = tpm == want and tpm != wrong and tpm.startswith("AWS4-HMAC-SHA256 ")
            failed += not ok
            print("%s - %s call %d: %s" % ("ok" if ok else "not ok", service, i, tpm))
            if not ok:
                print("#   botocore with the secret: %s" % want)
        s3_tpm = client("s3", PLACEHOLDER, counting)
        s3_real = client("s3", SECRET)
        params = {"Bucket": "examplebucket", "Key": "photos/my cat.jpg"}
        url_tpm = s3_tpm.generate_presigned_url("get_object", Params=params, ExpiresIn=86400)
        url_real = s3_real.generate_presigned_url("get_object", Params=params, ExpiresIn=86400)
        ok = url_tpm == url_real and "X-Amz-Signature=" in url_tpm
        failed += not ok
        print("%s - s3 presigned URL: %s" % ("ok" if ok else "not ok", url_tpm))
    ok = len(calls) == len(CALLS) + 1 and set(calls) == {"20150830"}
    failed += not ok
    print("%s - kDate came from the TPM for each signature (%d times)"
          % ("ok" if ok else "not ok", len(calls)))
    kdate.close()
    print("# %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
