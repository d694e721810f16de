/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attribute templates without the module around them: a caller's template
 * copied into an attr_list, checked against every class's schema for creation,
 * modification and generation, defaults filled in, and the store encoding,
 * which must give back exactly what was encoded. The input is a template
 * (fuzz-common.c's fz_template); the raw bytes are also decoded as a stored row.
 */
#include "config.h"

#include <stdlib.h>

#include "core/internal.h"
#include "core/keys/tpmkey.h"
#include "fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

static const CK_OBJECT_CLASS classes[] = {
    CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY,
    CKO_HW_FEATURE, CKO_VENDOR_DEFINED,
};

static void
roundtrip (const attr_list *l)
{
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    attr_list *back = NULL;

    if (attr_list_encode (l, &enc, &enc_len) != CKR_OK)
        return;
    if (attr_list_decode (enc, enc_len, &back) != CKR_OK || back->n != l->n
        || !attr_list_match (back, l) || !attr_list_match (l, back))
        abort (); /* what the store writes must read back the same */
    attr_list_free (back);
    free (enc);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    attr_list *l = NULL, *raw = NULL;
    CK_ATTRIBUTE *t;
    CK_ULONG count;
    fz f;

    if (attr_list_decode (data, len, &raw) == CKR_OK)
        roundtrip (raw);
    attr_list_free (raw);

    fz_init (&f, data, len);
    t = fz_template (&f, 64, &count);
    if (attr_list_from_template (t, count, &l) == CKR_OK) {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
            attr_list *d = attr_list_dup (l);
            bool v;
            CK_ULONG u;
            template_check (classes[i], l, A_CREATE, 0);
            template_check (classes[i], l, A_MODIFY, 0);
            template_check (classes[i], l, A_CREATE, A_NOGEN);
            template_check (classes[i], l, A_COPY | A_MODIFY, A_NOGEN);
            if (d != NULL && template_defaults (classes[i], d) == CKR_OK) {
                template_required (classes[i], d);
                if (!attr_list_match (d, l))
                    abort (); /* defaults fill gaps, they never change a value */
                pcr_of_object (d);
                roundtrip (d);
            }
            attr_list_bool (l, CKA_TOKEN, &v);
            attr_list_ulong (l, CKA_CLASS, &u);
            attr_list_free (d);
        }
        {
            tpm_pcrs p;
            pcr_from_template (l, &p);
        }
        roundtrip (l);
        for (CK_ULONG i = 0; i < count; i++)
            attr_list_remove (l, t[i].type);
        if (l->n != 0)
            abort (); /* removing every type given leaves nothing */
    }
    attr_list_free (l);
    fz_done (&f);
    return 0;
}
