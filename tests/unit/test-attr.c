/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: attribute lists, their store encoding, and template rules as
 * seen through C_CreateObject on an in-memory store (no TPM needed). */
#include "config.h"

#include <string.h>

#include "core/attr.h"
#include "core/internal.h"
#include "tap.h"

static void
test_template_copy (void)
{
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE dup[] = { { CKA_TOKEN, &t, 1 }, { CKA_TOKEN, &f, 1 } };
    CK_ATTRIBUTE same[] = { { CKA_TOKEN, &t, 1 }, { CKA_TOKEN, &t, 1 } };
    CK_ATTRIBUTE nullval[] = { { CKA_LABEL, NULL, 4 } };
    attr_list *l = NULL;
    bool b;

    is_rv (attr_list_from_template (dup, 2, &l), CKR_TEMPLATE_INCONSISTENT,
           "conflicting duplicate");
    ok (l == NULL, "nothing returned on error");
    is_rv (attr_list_from_template (nullval, 1, &l), CKR_ARGUMENTS_BAD, "NULL value, length 4");
    is_rv (attr_list_from_template (NULL, 3, &l), CKR_ARGUMENTS_BAD, "NULL template, count 3");
    is_rv (attr_list_from_template (same, 2, &l), CKR_OK, "identical duplicate accepted");
    ok (l != NULL && l->n == 1, "one attribute kept");
    ok (attr_list_bool (l, CKA_TOKEN, &b) && b, "value read back");
    attr_list_free (l);
}

static void
test_encode_roundtrip (void)
{
    attr_list *l = attr_list_new (), *back = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    CK_ULONG v;

    attr_list_set_ulong (l, CKA_CLASS, CKO_DATA);
    attr_list_set (l, CKA_LABEL, "hello", 5);
    attr_list_set (l, CKA_VALUE, "", 0);
    is_rv (attr_list_encode (l, &buf, &len), CKR_OK, "encode");
    is_rv (attr_list_decode (buf, len, &back), CKR_OK, "decode");
    ok (back && back->n == 3 && attr_list_match (back, l) && attr_list_match (l, back),
        "round trip equal");
    ok (attr_list_ulong (back, CKA_CLASS, &v) && v == CKO_DATA, "class survives");
    attr_list_free (back);
    back = NULL;
    /* every truncation is rejected, never read past the end */
    for (size_t cut = 0; cut < len; cut++) {
        CK_RV rv = attr_list_decode (buf, cut, &back);
        if (rv == CKR_OK) {
            ok (cut > 0 && back != NULL, "prefix %zu decodes to a shorter list", cut);
            attr_list_free (back);
            back = NULL;
        }
    }
    buf[0] = 9;
    is_rv (attr_list_decode (buf, len, &back), CKR_DATA_INVALID, "unknown version rejected");
    free (buf);
    attr_list_free (l);
}

/* Found by fuzz/fuzz-attr: the schema helpers met a class without a schema with
 * a NULL dereference (C_CreateObject checks the class first; other callers may not). */
static void
test_unknown_class (void)
{
    attr_list *l = attr_list_new ();
    bool priv = true;

    is_rv (template_defaults (CKO_HW_FEATURE, l), CKR_OK, "defaults for a class without a schema");
    ok (attr_list_bool (l, CKA_PRIVATE, &priv) && !priv, "... only CKA_PRIVATE FALSE");
    is_rv (template_required (CKO_VENDOR_DEFINED, l), CKR_OK, "nothing is required of it");
    is_rv (template_check (CKO_VENDOR_DEFINED, l, A_CREATE, 0), CKR_TEMPLATE_INCONSISTENT,
           "and CKA_PRIVATE is not valid for it");
    attr_list_free (l);
}

int
main (void)
{
    test_template_copy ();
    test_encode_roundtrip ();
    test_unknown_class ();
    return tap_done ();
}
