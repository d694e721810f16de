#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the seed corpora fuzz/corpus/{attr,p11,store,hbverify}/ in the input
formats the harnesses read (fuzz-common.c: fz_template, fz_mechanism; each
harness's own order of reads). A developer's tool, run by hand after a harness
changes its format; CI only reads the committed files. The TSS2 seeds come from
real key files: fuzz/make-tss2-seeds.sh."""
import hashlib
import hmac
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

def u8(x): return bytes([x & 0xff])
def ulong(x): return struct.pack('<Q', x & 0xffffffffffffffff)
def length(n): return u8(n) if n < 255 else b'\xff' + struct.pack('<I', n)
def boolean(b): return b'\x01' if b else b'\x00'

# PKCS#11 constants
CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY = 0, 1, 2, 3, 4
CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION, CKA_VALUE = 0, 1, 2, 3, 0x10, 0x11
CKA_CERTIFICATE_TYPE, CKA_KEY_TYPE, CKA_ID, CKA_SIGN, CKA_VERIFY, CKA_DERIVE = 0x80, 0x100, 0x102, 0x108, 0x10a, 0x10c
CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_VALUE_LEN = 0x103, 0x162, 0x161
CKA_EC_PARAMS, CKA_EC_POINT, CKA_ALLOWED_MECHANISMS = 0x180, 0x181, 0x40000600
TT = 0x80000000 | 0x54540000
CKA_PCR_MASK, CKA_PCR_BANK = TT + 0x10, TT + 0x11
CKK_EC, CKK_EC_EDWARDS, CKK_SHA256_HMAC, CKK_GENERIC_SECRET = 3, 0x40, 0x2b, 0x10
CKM_SHA256, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL = 0x250, 0x1041, 0x1044, 0x251, 0x252
CKM_EDDSA, CKM_EC_KEY_PAIR_GEN, CKM_GENERIC_SECRET_KEY_GEN = 0x1057, 0x1040, 0x350
CKM_WATCHDOG_DERIVE, CKM_HEARTBEAT = TT + 0x20, TT + 0x21
CKF_SERIAL_SESSION, CKF_RW_SESSION = 4, 2

P256_OID = bytes.fromhex('06082a8648ce3d030107')
ED_OID = bytes.fromhex('06032b6570')
P256_G = bytes.fromhex('044104' '6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'
                       '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5')
ED_B = bytes.fromhex('0420' + '58' + '66' * 31)

def attr(t, v):
    """One template entry: a raw type (how 0x86: type read as a ulong, value as bytes)."""
    return b'\x86\x00' + ulong(t) + length(len(v)) + v

def template(*attrs):
    return length(len(attrs)) + b''.join(attrs)

def mech(m, param=None):
    """fz_mechanism: a raw type; no parameter, or raw parameter bytes."""
    if param is None:
        return b'\x80' + ulong(m)
    return b'\x82' + ulong(m) + length(len(param)) + param

def x509_der():
    """A small self-signed P-256 certificate (openssl), for CKO_CERTIFICATE."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                        '-nodes', '-keyout', d + '/k', '-subj', '/CN=seed', '-days', '1',
                        '-outform', 'DER', '-out', d + '/c'], check=True, capture_output=True)
        with open(d + '/c', 'rb') as f:
            return f.read()

CERT = x509_der()

TEMPLATES = {
    'certificate': template(attr(CKA_CLASS, ulong(CKO_CERTIFICATE)), attr(CKA_CERTIFICATE_TYPE, ulong(0)),
                            attr(CKA_TOKEN, boolean(0)), attr(CKA_VALUE, CERT), attr(CKA_LABEL, b'cert')),
    'ed-private': template(attr(CKA_CLASS, ulong(CKO_PRIVATE_KEY)),
                           attr(CKA_KEY_TYPE, ulong(CKK_EC_EDWARDS)), attr(CKA_TOKEN, boolean(0)),
                           attr(CKA_EC_PARAMS, ED_OID), attr(CKA_VALUE, b's' * 32)),
    'data': template(attr(CKA_CLASS, ulong(CKO_DATA)), attr(CKA_TOKEN, boolean(0)),
                     attr(CKA_LABEL, b'seed'), attr(CKA_APPLICATION, b'app'),
                     attr(CKA_VALUE, b'hello')),
    'ec-public': template(attr(CKA_CLASS, ulong(CKO_PUBLIC_KEY)), attr(CKA_KEY_TYPE, ulong(CKK_EC)),
                          attr(CKA_TOKEN, boolean(0)), attr(CKA_EC_PARAMS, P256_OID),
                          attr(CKA_EC_POINT, P256_G), attr(CKA_ID, b'\x01'),
                          attr(CKA_LABEL, b'ec')),
    'ed-public': template(attr(CKA_CLASS, ulong(CKO_PUBLIC_KEY)),
                          attr(CKA_KEY_TYPE, ulong(CKK_EC_EDWARDS)), attr(CKA_TOKEN, boolean(0)),
                          attr(CKA_EC_PARAMS, ED_OID), attr(CKA_EC_POINT, ED_B)),
    'hmac-secret': template(attr(CKA_CLASS, ulong(CKO_SECRET_KEY)),
                            attr(CKA_KEY_TYPE, ulong(CKK_SHA256_HMAC)), attr(CKA_TOKEN, boolean(0)),
                            attr(CKA_VALUE, b'k' * 32), attr(CKA_SIGN, boolean(1))),
    'ec-private-pcr': template(attr(CKA_CLASS, ulong(CKO_PRIVATE_KEY)),
                               attr(CKA_KEY_TYPE, ulong(CKK_EC)), attr(CKA_EC_PARAMS, P256_OID),
                               attr(CKA_PCR_MASK, ulong(0x80)), attr(CKA_PCR_BANK, ulong(CKM_SHA256)),
                               attr(CKA_ALLOWED_MECHANISMS, ulong(CKM_ECDSA) + ulong(CKM_ECDSA_SHA256))),
}

def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

# ---- fuzz-p11: C_Initialize how, then ops (op byte, session pick, object pick, op's reads)
def op(n, rest=b'', sess=0, obj=0):
    return u8(n) + u8(sess) + u8(obj) + rest

OPEN_RW = op(0, u8(2))              # C_OpenSession on the token, RW
FIND_ALL = op(10, template() + u8(8))
def create(t): return op(2, t)
def get_all(): # CKA_CLASS, CKA_LABEL, CKA_VALUE, CKA_EC_POINT: lengths then 256-byte buffers
    t = template(attr(CKA_CLASS, b''), attr(CKA_LABEL, b''), attr(CKA_VALUE, b''), attr(CKA_EC_POINT, b''))
    return op(7, t + b'\x01\x00' * 0 + b'\x03\x00\x00\x00')
def out_buf(big=True): return b'\x02' + length(0) if big else b'\x01' + length(0)

def p11_seeds():
    init = b'\x00'
    yield 'data-object', init + OPEN_RW + create(TEMPLATES['data']) + FIND_ALL + get_all() \
        + op(5, template(attr(CKA_LABEL, b'copy'))) + op(9, template(attr(CKA_LABEL, b'new'))) \
        + op(14) + op(6) + op(1)
    yield 'ec-verify', init + OPEN_RW + create(TEMPLATES['ec-public']) \
        + op(19, mech(CKM_ECDSA_SHA256) + b'\x00') + op(20, length(5) + b'hello' + length(64) + b's' * 64)
    yield 'ed-verify', init + OPEN_RW + create(TEMPLATES['ed-public']) \
        + op(19, mech(CKM_EDDSA) + b'\x00') + op(20, length(5) + b'hello' + length(64) + b's' * 64)
    yield 'digest', init + OPEN_RW + op(23, mech(CKM_SHA256)) + op(25, length(3) + b'abc') \
        + op(27, out_buf(False)) + op(23, mech(CKM_SHA256)) + op(24, length(3) + b'abc' + out_buf())
    yield 'fake-login-hmac', init + op(31, u8(3) + length(0)) + OPEN_RW \
        + create(TEMPLATES['hmac-secret']) + op(15, mech(CKM_SHA256_HMAC_GENERAL, ulong(16)) + b'\x00') \
        + op(16, length(4) + b'data' + out_buf())
    yield 'keygen', init + op(31, u8(3) + length(0)) + OPEN_RW \
        + op(29, mech(CKM_EC_KEY_PAIR_GEN) + template(attr(CKA_EC_PARAMS, P256_OID)) + template()) \
        + op(28, mech(CKM_GENERIC_SECRET_KEY_GEN) + template(attr(CKA_VALUE_LEN, ulong(32)))) \
        + op(30, mech(CKM_WATCHDOG_DERIVE, b'x' * 33) + template()) \
        + op(15, mech(CKM_HEARTBEAT, b'n' * 16) + b'\x00')
    yield 'pcr-private', init + op(31, u8(3) + length(0)) + OPEN_RW + create(TEMPLATES['ec-private-pcr']) \
        + op(34, u8(64) + b'\x00' + u8(8) + b'\x00') + op(33, mech(CKM_ECDSA) + b'\x01')
    yield 'certificate', init + OPEN_RW + create(TEMPLATES['certificate']) + FIND_ALL + get_all()
    yield 'ed-private', init + op(31, u8(3) + length(0)) + OPEN_RW + create(TEMPLATES['ed-private']) \
        + op(15, mech(CKM_EDDSA) + b'\x00') + op(16, length(5) + b'hello' + out_buf())
    # C_Initialize with locking callbacks and flags
    yield 'init-args', b'\x1f' + ulong(2) + OPEN_RW + op(33, mech(CKM_ECDSA) + b'\x01')

# ---- fuzz-store: how, tokens, objects (see fuzz-store.c's reads)
def store_seeds():
    def blob(v): return b'\x03' + length(len(v)) + v
    def text(v): return b'\x02' + length(len(v)) + v
    token = b'\x00' + u8(1) + text(b'token') + text(b'0011223344556677') + blob(b's' * 16) \
        + blob(b'pub') + blob(b'priv') + b'\x00' + b'\x00'
    def obj(kind, pub=b'P' * 8, wrap=True, extra=template()):
        how = 0x08 if wrap else 0
        # how, pub length + bytes, base kind and its reads, template, drops, tpm_priv, wrap
        base = u8(kind)
        if kind in (2, 3):
            base += P256_G[2:] + b'\x00'   # 67 bytes of point (fz_bytes 67), private flag
        elif kind == 4:
            base += ED_B + b'\x00'
        elif kind == 5:
            base += b'\x01' + b'\x00'
        elif kind == 6:
            base += b'h' * 32 + b'\x00'
        elif kind == 1:
            base += b'c' * 64 + b'\x00'
        else:
            base += b'\x01'  # data, public
        rest = u8(how) + length(len(pub)) + pub + base + extra + b'\x00' + blob(b'priv')
        if wrap:
            rest += length(32) + b'a' * 32
        else:
            rest += b'\x00'
        return rest
    # how: 1 token; RW session (0x10); fake login (0x20)
    for name, kind in (('data', 0), ('cert', 1), ('ec-public', 2), ('ec-private', 3),
                       ('ed-private', 4), ('hmac', 5), ('heartbeat-key', 6)):
        body = u8(0x30) + token + u8(1) + b'\x00' + obj(kind)
        # use_object: the number of sign/verify rounds and a mechanism
        m = {2: mech(CKM_ECDSA), 3: mech(CKM_ECDSA_SHA256), 4: mech(CKM_EDDSA),
             5: mech(CKM_SHA256_HMAC), 6: mech(CKM_HEARTBEAT, b'n' * 16)}.get(kind, mech(CKM_SHA256))
        body += u8(1) + m + u8(32) + b'\x01' + u8(64) + b'\x01\x01\x00'
        write('store', name, body)

# ---- fuzz-hbverify: key, window, now, nonce use, nonce, then messages
def heartbeat(key, seq, ts, nonce=b'\x00' * 16, meta=b''):
    msg = b'TTHB' + struct.pack('<HHQQ', 1, 0, seq, ts) + nonce + struct.pack('<H', len(meta)) + meta
    return msg + hmac.new(key, msg, hashlib.sha256).digest()

def hb_seeds():
    key = bytes(range(32))
    nonce = b'N' * 16
    now = 10**12
    head = key + ulong(5 * 10**9) + ulong(now) + b'\x01' + nonce
    hb1 = heartbeat(key, 1, now, nonce, b'meta')
    hb2 = heartbeat(key, 2, now + 1000, nonce)
    yield 'two-valid', head + length(len(hb1)) + hb1 + b'\x00' + length(len(hb2)) + hb2 + b'\x00'
    yield 'replay', head + length(len(hb1)) + hb1 + b'\x00' + length(len(hb1)) + hb1 + b'\x00'
    big = heartbeat(key, 7, now, nonce, b'm' * 256)
    yield 'max-meta', head + length(len(big)) + big + b'\x00' + length(3) + b'abc' + ulong(9)
    yield 'build', key + ulong(0) + ulong(now) + b'\x00' + nonce + length(10) + b'0123456789' \
        + ulong(3) + b'\x05\x07' + length(70) + b'K' * 70

def main():
    for name, data in TEMPLATES.items():
        write('attr', name, data)
    for name, data in p11_seeds():
        write('p11', name, data)
    store_seeds()
    for name, data in hb_seeds():
        write('hbverify', name, data)
    return 0

if __name__ == '__main__':
    sys.exit(main())
