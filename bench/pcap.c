/* SPDX-License-Identifier: BSD-2-Clause */
/* Counting TPM commands in the pcapng captures of the tpm2-tss pcap TCTI, and
 * printing them per command code. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static uint32_t
le32 (const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint32_t
be32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Handles in the handle area of the commands whose sessions we inspect. */
static int
cc_handles (uint32_t cc)
{
    switch (cc) {
    case 0x155: /* HMAC */
    case 0x15D: /* Sign */
    case 0x15E: /* Unseal */
        return 1;
    default:
        return -1;
    }
}

/* True if the authorization area of command cmd (len bytes, tag 0x8002)
 * holds a session with the encrypt attribute: the TPM encrypts the first
 * response parameter (TPM 2.0 Part 1, 21.2; Part 3, authorization area). */
static bool
cmd_response_encrypted (const unsigned char *cmd, size_t len, int handles)
{
    size_t off = 10 + 4 * (size_t) handles, end;
    if (handles < 0 || off + 4 > len)
        return false;
    end = off + 4 + be32 (cmd + off);
    off += 4;
    if (end > len)
        return false;
    while (off + 4 + 2 <= end) {
        size_t nonce = (size_t) cmd[off + 4] << 8 | cmd[off + 5];
        size_t at = off + 6 + nonce, hmac;
        if (at + 3 > end)
            return false;
        if (cmd[at] & 0x40) /* TPMA_SESSION_ENCRYPT */
            return true;
        hmac = (size_t) cmd[at + 1] << 8 | cmd[at + 2];
        off = at + 3 + hmac;
    }
    return false;
}

/*
 * tcti-pcap (tpm2-tss 3.2.1) writes pcapng: a section header block
 * (0x0A0D0D0A, little-endian here), an interface description block (LINKTYPE
 * raw IPv4), then one enhanced packet block (type 6) per TPM command and per
 * response, each a fake IPv4 + TCP packet, host port 50000 -> TPM port 2321
 * for commands, the reverse for responses, TPM bytes as the TCP payload.
 * Counts commands: packets to port 2321 whose payload is a TPM command
 * header (tag 0x8001/0x8002, size, code 0x11F..0x1FF); hist[code - 0x100]
 * counts them per code and enc[] those asking for response encryption.
 * -1 if unreadable.
 */
long
pcap_count_commands (const char *path, long *responses, long *hist, long *enc)
{
    FILE *f = fopen (path, "rb");
    unsigned char *buf;
    long size, cmds = 0, rsps = 0;
    size_t off = 0;
    if (f == NULL) {
        /* tcti-pcap creates the file at the TCTI's initialisation: no file
         * means the TCTI was never opened, so no command was sent. */
        if (errno == ENOENT) {
            if (responses != NULL)
                *responses = 0;
            return 0;
        }
        return -1;
    }
    fseek (f, 0, SEEK_END);
    size = ftell (f);
    rewind (f);
    buf = malloc ((size_t) size + 1);
    if (buf == NULL || fread (buf, 1, (size_t) size, f) != (size_t) size) {
        fclose (f);
        free (buf);
        return -1;
    }
    fclose (f);
    while (off + 12 <= (size_t) size) {
        uint32_t type = le32 (buf + off), len = le32 (buf + off + 4);
        if (len < 12 || len % 4 != 0 || off + len > (size_t) size)
            break;
        if (type == 6 && len >= 32) {
            const unsigned char *pkt = buf + off + 28;
            uint32_t caplen = le32 (buf + off + 20);
            if (caplen <= len - 32 && caplen >= 20 && (pkt[0] >> 4) == 4) {
                size_t ihl = (size_t) (pkt[0] & 15) * 4;
                if (pkt[9] == 6 && caplen >= ihl + 20) {
                    const unsigned char *tcp = pkt + ihl;
                    unsigned dport = (unsigned) tcp[2] << 8 | tcp[3];
                    size_t thl = (size_t) (tcp[12] >> 4) * 4;
                    const unsigned char *tpm = tcp + thl;
                    size_t tlen = caplen >= ihl + thl ? caplen - ihl - thl : 0;
                    if (tlen >= 10) {
                        unsigned tag = (unsigned) tpm[0] << 8 | tpm[1];
                        uint32_t code = be32 (tpm + 6);
                        if (tag == 0x8001 || tag == 0x8002) {
                            if (dport == 2321 && code >= 0x11F && code <= 0x1FF) {
                                cmds++;
                                if (hist != NULL)
                                    hist[code - 0x100]++;
                                if (enc != NULL && tag == 0x8002
                                    && cmd_response_encrypted (tpm, tlen, cc_handles (code)))
                                    enc[code - 0x100]++;
                            } else if (dport != 2321) {
                                rsps++;
                            }
                        }
                    }
                }
            }
        }
        off += len;
    }
    free (buf);
    if (responses != NULL)
        *responses = rsps;
    return cmds;
}

static const char *
cc_name (unsigned cc)
{
    switch (cc) {
    case 0x12A: return "NV_DefineSpace";
    case 0x12C: return "HierarchyChangeAuth";
    case 0x131: return "CreatePrimary";
    case 0x134: return "NV_Increment";
    case 0x13E: return "SequenceComplete";
    case 0x144: return "Startup";
    case 0x14E: return "NV_Read";
    case 0x153: return "Create";
    case 0x155: return "HMAC";
    case 0x157: return "Load";
    case 0x158: return "Quote";
    case 0x15B: return "SequenceUpdate";
    case 0x15D: return "Sign";
    case 0x15E: return "Unseal";
    case 0x161: return "ContextLoad";
    case 0x162: return "ContextSave";
    case 0x165: return "FlushContext";
    case 0x167: return "LoadExternal";
    case 0x16B: return "PolicyOR";
    case 0x16C: return "PolicyAuthValue";
    case 0x16F: return "PolicyPassword";
    case 0x173: return "ReadPublic";
    case 0x176: return "StartAuthSession";
    case 0x177: return "VerifySignature";
    case 0x17A: return "GetCapability";
    case 0x17B: return "GetRandom";
    case 0x17E: return "PCR_Read";
    case 0x17F: return "PolicyPCR";
    case 0x181: return "ReadClock";
    case 0x183: return "PolicyCommandCode";
    case 0x18A: return "TestParms";
    case 0x189: return "PolicyGetDigest";
    case 0x191: return "CreateLoaded";
    default: return NULL;
    }
}

/* "Name n, ..." of a per-command-code histogram (hist[code - 0x100]). */
void
print_hist (const long *hist)
{
    bool first = true;
    for (unsigned i = 0; i < 256; i++) {
        const char *name = cc_name (i + 0x100);
        if (hist[i] == 0)
            continue;
        if (name != NULL)
            printf ("%s%s %ld", first ? "" : ", ", name, hist[i]);
        else
            printf ("%s0x%x %ld", first ? "" : ", ", i + 0x100, hist[i]);
        first = false;
    }
    if (first)
        printf ("-");
}

/* The same from the "TAG code n" lines of a phase-bc child. */
void
print_breakdown (const char *out, const char *tag)
{
    const char *p = out;
    long hist[256] = { 0 };
    size_t tl = strlen (tag);
    while ((p = strstr (p, tag)) != NULL) {
        unsigned cc;
        long n;
        if ((p == out || p[-1] == '\n') && p[tl] == ' '
            && sscanf (p + tl, " %x %ld", &cc, &n) == 2 && cc >= 0x100 && cc <= 0x1FF)
            hist[cc - 0x100] += n;
        p += tl;
    }
    print_hist (hist);
}

/* Commands of code cc in the "TAG code n" lines. */
long
breakdown_count (const char *out, const char *tag, unsigned want)
{
    const char *p = out;
    size_t tl = strlen (tag);
    while ((p = strstr (p, tag)) != NULL) {
        unsigned cc;
        long n;
        if ((p == out || p[-1] == '\n') && p[tl] == ' '
            && sscanf (p + tl, " %x %ld", &cc, &n) == 2 && cc == want)
            return n;
        p += tl;
    }
    return 0;
}
