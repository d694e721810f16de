# SPDX-License-Identifier: BSD-2-Clause
"""botocore/boto3 requests signed with an AWS secret that lives in a TPM.

The secret access key is imported once with `tpmtrust-tool hmac import --aws`
(it is then an HMAC key "AWS4"+secret inside the TPM, in a tpmtrust token).
SigV4's first step, kDate = HMAC("AWS4"+secret, date), runs in the TPM through
PKCS#11 (PyKCS11, Debian's python3-pykcs11); the rest of SigV4 (kRegion,
kService, kSigning, the signature) is botocore's own code, unchanged. kDate is
valid for one day, one region set: it is what AWS itself hands to scoped
signers, and the secret never leaves the TPM.

    import botocore.session, tpmtrust_botocore
    kdate = tpmtrust_botocore.TpmKDate(token="aws", pin=os.environ["PIN"])
    session = botocore.session.get_session()
    tpmtrust_botocore.install(session, kdate)
    s3 = session.create_client("s3", region_name="us-east-1",
                               aws_access_key_id="AKID...",
                               aws_secret_access_key="held-in-the-tpm")
    s3.list_buckets()

With boto3: `tpmtrust_botocore.install(boto3_session._session, kdate)`.
The secret given to botocore is never used (botocore insists on one): any
placeholder will do. See docs/sigv4.md.
"""

import PyKCS11
import botocore.auth

__all__ = ["TpmKDate", "install", "install_client", "SIGNERS"]

DEFAULT_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/tpmtrust-pkcs11.so"


class TpmKDate:
    """kDate from the TPM: C_Sign (CKM_SHA256_HMAC) over the date with the
    token's secret key labelled `label` (tpmtrust-tool's default for --aws)."""

    def __init__(self, token, pin, label="aws-sigv4", module=DEFAULT_MODULE):
        self._lib = PyKCS11.PyKCS11Lib()
        self._lib.load(module)
        slot = self._find_slot(token)
        self._session = self._lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION)
        self._session.login(pin)
        keys = self._session.findObjects(
            [(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_LABEL, label)]
        )
        if len(keys) != 1:
            raise LookupError(
                "token %r has %d secret keys labelled %r (import one with "
                "'tpmtrust-tool hmac import --aws --token %s')" % (token, len(keys), label, token)
            )
        self._key = keys[0]
        self._mech = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_HMAC, None)

    def _find_slot(self, token):
        for slot in self._lib.getSlotList(tokenPresent=True):
            if self._lib.getTokenInfo(slot).label.strip() == token:
                return slot
        raise LookupError("no tpmtrust token labelled %r" % token)

    def __call__(self, datestamp):
        """kDate for an 8-digit date (YYYYMMDD) as 32 bytes."""
        if len(datestamp) != 8 or not datestamp.isdigit():
            raise ValueError("SigV4 date stamp must be YYYYMMDD, not %r" % datestamp)
        return bytes(self._session.sign(self._key, datestamp.encode("ascii"), self._mech))

    def close(self):
        self._session.logout()
        self._session.closeSession()


class _TpmSigV4:
    """Replaces SigV4Auth.signature: the first HMAC in the TPM."""

    kdate = None  # set on the subclasses _tpm_signers() makes

    def signature(self, string_to_sign, request):
        k_date = self.kdate(request.context["timestamp"][0:8])
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        k_signing = self._sign(k_service, "aws4_request")
        return self._sign(k_signing, string_to_sign, hex=True)


# botocore's SigV4 signers (the pure-Python ones, also where awscrt is installed)
SIGNERS = {
    "v4": botocore.auth.SigV4Auth,
    "v4-query": botocore.auth.SigV4QueryAuth,
    "s3v4": botocore.auth.S3SigV4Auth,
    "s3v4-query": botocore.auth.S3SigV4QueryAuth,
    "s3v4-presign-post": botocore.auth.S3SigV4PostAuth,
}


def _tpm_signers(kdate):
    return {
        name: type("Tpm" + base.__name__, (_TpmSigV4, base), {"kdate": staticmethod(kdate)})
        for name, base in SIGNERS.items()
    }


def install_client(client, kdate):
    """Makes every SigV4 signature of this client (requests and presigned URLs)
    use kdate (a TpmKDate); other signature versions are left alone."""
    signer = client._request_signer  # botocore's RequestSigner of this client
    orig = signer.get_auth_instance
    ours = _tpm_signers(kdate)

    def get_auth_instance(signing_name, region_name, signature_version=None, **kwargs):
        auth = orig(signing_name, region_name, signature_version, **kwargs)
        for name, base in SIGNERS.items():
            if type(auth) is base:
                auth.__class__ = ours[name]  # the same signer, with our signature()
                return auth
        version = signature_version or getattr(signer, "signature_version", None)
        if version in ours:  # awscrt's signers: the pure-Python one instead
            return ours[version](auth.credentials, signing_name, region_name, **kwargs)
        return auth

    signer.get_auth_instance = get_auth_instance
    signer.get_auth = get_auth_instance
    return client


def install(session, kdate):
    """The same for every client created from this botocore session after the
    call (boto3: pass boto3_session._session)."""

    class TpmClient:
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            install_client(self, kdate)

    def add_mixin(class_attributes, base_classes, **kwargs):
        base_classes.insert(0, TpmClient)

    session.register("creating-client-class", add_mixin, unique_id="tpmtrust-sigv4")
