#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""pcap-count.py FILE: the TPM commands in a capture of tpm2-tss's pcap TCTI
(pcapng, raw IPv4/TCP framing, commands to port 2321): prints the total and
the count per command, then the commands in order."""
import struct, sys, collections
NAMES = {0x131:'CreatePrimary',0x153:'Create',0x157:'Load',0x15D:'Sign',0x15E:'Unseal',0x165:'FlushContext',
 0x17A:'GetCapability',0x181:'ReadClock',0x176:'StartAuthSession',0x155:'HMAC',0x17E:'PCR_Read',0x17B:'GetRandom',
 0x162:'ContextLoad',0x161:'ContextSave',0x173:'ReadPublic',0x16B:'PolicyPCR',0x16F:'PolicyAuthValue',0x154:'ECDH_ZGen',
 0x127:'PCR_Extend',0x170:'PolicyGetDigest',0x144:'Startup',0x14E:'NV_Read',0x169:'NV_ReadPublic',0x129:'EvictControl',0x134:'NV_Increment',0x12A:'NV_DefineSpace'}
try:
    d = open(sys.argv[1], 'rb').read()
except FileNotFoundError:  # the TCTI was never opened: no command
    d = b''
off = 0; c = collections.Counter(); seq = []
while off+12 <= len(d):
    t,l = struct.unpack_from('<II', d, off)
    if l < 12: break
    if t == 6:
        cap = struct.unpack_from('<I', d, off+20)[0]; pkt = d[off+28:off+28+cap]
        ihl=(pkt[0]&15)*4; tcp=pkt[ihl:]; dport=tcp[2]<<8|tcp[3]; thl=(tcp[12]>>4)*4; tpm=tcp[thl:]
        if len(tpm)>=10:
            tag,size,code = struct.unpack_from('>HII', tpm)
            if tag in (0x8001,0x8002) and dport==2321 and 0x11F<=code<=0x1FF:
                n=NAMES.get(code,hex(code)); c[n]+=1; seq.append(n)
    off += l
print(sum(c.values()), ' '.join('%s=%d' % kv for kv in sorted(c.items())))
print(' '.join(seq))
