/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the TPM-backed key types share (tpmkey.c) and their PCR binding (pcr.c).
 * Below the core: no call into object.c, token.c, module.c or ops.c.
 */
#ifndef TT_TPMKEY_H
#define TT_TPMKEY_H

#include "internal.h"

/* A fresh random authValue for a TPM key (from tok's TPM). */
CK_RV tpmkey_auth_new (tt_token *tok, secbuf **out);
/* Gives obj the TPM key's blobs (taken) and its auth wrapped under the token secret. */
CK_RV tpmkey_take (tt_token *tok, tt_object *obj, tpm_blob *pub, tpm_blob *priv,
                   const secbuf *auth);
/* op's own copy of key's blobs, wrapped auth and PCR binding. */
CK_RV tpmkey_copy (sign_op *op, const tt_object *key);
/* op's key authValue, unwrapped under the token secret (CKR_USER_NOT_LOGGED_IN). */
CK_RV tpmkey_auth (tt_token *tok, const sign_op *op, secbuf **auth);
/* Turns a TPM refusal into what it means for op's key, with a log line. */
void tpmkey_check_result (tt_token *tok, const sign_op *op, CK_RV *rv);

/* Shared checks: no mechanism parameter; an asymmetric key of type want
 * (sign: private; verify: public or private). */
CK_RV keytype_no_param (sign_op *op, const CK_MECHANISM *mech);
CK_RV keytype_check_pair (const tt_object *key, CK_KEY_TYPE want, bool verify);
/* A created public key: CKA_EC_POINT as a DER OCTET STRING of raw, not local. */
CK_RV keytype_public_finish (attr_list *attrs, const uint8_t *raw, size_t raw_len);
/* A new pair's curve: CKA_EC_PARAMS of either template (CKR_TEMPLATE_INCOMPLETE,
 * logged); set: records it (as oid) in both. */
CK_RV keytype_pair_params (const attr_list *pub, const attr_list *priv,
                           const CK_ATTRIBUTE **params);
CK_RV keytype_pair_set_params (attr_list *pub, attr_list *priv, const uint8_t *oid,
                               size_t oid_len);
/* A new pair's public parts on both keys: CKA_EC_POINT (DER of raw) and CKA_PUBLIC_KEY_INFO. */
CK_RV keytype_pair_public (tt_object *pub, tt_object *priv, const uint8_t *raw, size_t raw_len,
                           const uint8_t *spki, size_t spki_len);

/* C_DeriveKey's template for the new secret key (what, the mechanism, for the
 * log): begin reads and checks it (the secret-key schema, CKA_CLASS, no
 * CKA_TOKEN TRUE: derived keys are session objects); end gives CKA_CLASS, the
 * key type default_type when none was asked, the class defaults, and frees
 * the list when rv (or its own work) failed. */
CK_RV keytype_derived_begin (const CK_ATTRIBUTE *tmpl, CK_ULONG count, const char *what,
                             attr_list **out);
CK_RV keytype_derived_end (attr_list **a, CK_KEY_TYPE default_type, CK_RV rv);

/* pcr.c: PCR binding. from_template: what a template (or the config default)
 * asks for (mask 0: nothing). bind: makes the policy for the current values and
 * records mask, bank and values in attrs. changed: how many bound PCRs differ now
 * (their names in list), -1 if unknown. report: logs that. */
CK_RV pcr_from_template (const attr_list *tmpl, tpm_pcrs *out);
CK_RV pcr_bind (tpm *t, attr_list *attrs, tpm_pcrs pcrs, tpm_policy *pol);
tpm_pcrs pcr_of_object (const attr_list *attrs);
int pcr_changed (tpm *t, tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len, char *list,
                 size_t list_len);
void pcr_report (tpm *t, tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len);
/* The TPM's id of a digest mechanism's bank (CKM_SHA256...), 0 if none. */
uint16_t pcr_bank (CK_MECHANISM_TYPE hash);

#endif
