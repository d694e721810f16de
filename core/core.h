/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The core API used by p11/ (one call per Cryptoki entry point) and tools/.
 *
 * Locking: core_session_enter/core_slot_enter find the session or slot under the
 * module lock and return with its token's lock held; the caller makes one core
 * call and then core_leave (tok). Functions named *_inlock expect that lock.
 * Pointer arguments have been checked by p11/ for NULL where the spec forbids it.
 */
#ifndef TT_CORE_H
#define TT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"

typedef struct tt_token tt_token;
typedef struct tt_session tt_session;
typedef struct tt_object tt_object;

typedef struct store store;

/* context.c: the store, opened on first use; CKR_DEVICE_ERROR with a log line
 * when it cannot be. */
CK_RV core_store (store **out);

/* module.c */
CK_RV core_initialize (void);
CK_RV core_finalize (void);
/* CKR_CRYPTOKI_NOT_INITIALIZED unless initialized in this process (not a forked child). */
CK_RV core_check (void);
CK_RV core_slot_list (CK_BBOOL token_present, CK_SLOT_ID *list, CK_ULONG *count);
/* C_WaitForSlotEvent without blocking: a slot whose token appeared or went away
 * (in the store, by any process) since the slots were first listed, each
 * reported once; else CKR_NO_EVENT. */
CK_RV core_slot_event (CK_SLOT_ID *slot);
CK_RV core_slot_enter (CK_SLOT_ID slot, tt_token **tok);
CK_RV core_session_enter (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess);
/* The same for C_CloseSession: a session of a token deleted by another
 * process (CKR_DEVICE_REMOVED everywhere else) can still be closed. */
CK_RV core_session_enter_to_close (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess);
void core_leave (tt_token *tok);
CK_RV core_session_open_inlock (tt_token *tok, CK_FLAGS flags, CK_SESSION_HANDLE *out);
CK_RV core_session_close_inlock (tt_token *tok, tt_session *sess);
/* C_CloseAllSessions: closes every session of tok (and so logs it out). */
void core_token_close_sessions_inlock (tt_token *tok);
CK_RV core_session_info_inlock (tt_token *tok, tt_session *sess, CK_SESSION_INFO *info);

/* token.c */
CK_RV token_slot_info_inlock (tt_token *tok, CK_SLOT_INFO *info);
CK_RV token_info_inlock (tt_token *tok, CK_TOKEN_INFO *info);
CK_RV token_init_inlock (tt_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                         const CK_UTF8CHAR *label);
CK_RV token_init_pin_inlock (tt_token *tok, tt_session *sess, const CK_UTF8CHAR *pin,
                             CK_ULONG pin_len);
CK_RV token_set_pin_inlock (tt_token *tok, tt_session *sess, const CK_UTF8CHAR *old,
                            CK_ULONG old_len, const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV token_login_inlock (tt_token *tok, tt_session *sess, CK_USER_TYPE user,
                          const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV token_logout_checked_inlock (tt_token *tok);
/* Deletes the token and all its objects from the store (tools). */
CK_RV token_delete_inlock (tt_token *tok);
/* Whether TPM t still holds the token rec (its sealed secrets and one key
 * load): CKR_OK; CKR_TOKEN_NOT_RECOGNIZED when none loads (the TPM was cleared
 * since the token was made, or the store comes from another TPM);
 * CKR_TPMTRUST_OBJECT_DAMAGED when only some load (damaged rows); what the TPM
 * layer says when it cannot be asked (CKR_DEVICE_ERROR). Logs what to do. */
struct tpm;
struct store_token;
CK_RV token_tpm_check (struct tpm *t, const struct store_token *rec);
const char *token_label (const tt_token *tok);
const char *token_serial (const tt_token *tok);

/* mech.c */
CK_RV mech_list (CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV mech_get_info (CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

/* object.c: each on a session of tok with the token lock held */
CK_RV object_create_inlock (tt_token *tok, tt_session *sess, const CK_ATTRIBUTE *tmpl,
                            CK_ULONG count, CK_OBJECT_HANDLE *out);
CK_RV object_copy_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                          const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out);
CK_RV object_destroy_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h);
CK_RV object_size_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_ULONG *size);
CK_RV object_get_attrs_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                               CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV object_set_attrs_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                               const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV object_find_init_inlock (tt_token *tok, tt_session *sess, const CK_ATTRIBUTE *tmpl,
                               CK_ULONG count);
CK_RV object_find_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE *out, CK_ULONG max,
                          CK_ULONG *count);
CK_RV object_find_final_inlock (tt_token *tok, tt_session *sess);
CK_RV object_generate_pair_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                                   const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
                                   const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
                                   CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

/* C_DeriveKey, C_GenerateKey: the mechanism's key type (core/keys/) computes
 * the key; these make and store the object. */
CK_RV object_derive_key_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                                CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                CK_OBJECT_HANDLE *out);
CK_RV object_generate_key_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                                  const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out);

/* The NV form of the watchdog root: a random 32-byte secret written to NV index
 * `index` under PolicyPCR of pcr_mask (SHA-256 bank), and a token object (label)
 * that names it. */
CK_RV object_provision_nv_inlock (tt_token *tok, tt_session *sess, uint32_t index,
                                  unsigned long pcr_mask, const char *label,
                                  CK_OBJECT_HANDLE *out);

/* adopt.c: TSS2 key file blobs (loadable keys under the standard SRK).
 * adopt: ECDSA or HMAC blobs with their auth become token objects (key_h; pub_h
 * the public key object for ECDSA, else CK_INVALID_HANDLE). export: a key's
 * blobs with the given new auth value (malloc'd; ours keeps its own auth). */
CK_RV object_adopt_inlock (tt_token *tok, tt_session *sess, const uint8_t *pub, size_t pub_len,
                           const uint8_t *priv, size_t priv_len, const CK_UTF8CHAR *auth,
                           CK_ULONG auth_len, const char *label, CK_OBJECT_HANDLE *key_h,
                           CK_OBJECT_HANDLE *pub_h);
CK_RV object_export_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                            const CK_UTF8CHAR *auth, CK_ULONG auth_len, uint8_t **pub,
                            size_t *pub_len, uint8_t **priv, size_t *priv_len);

/* ops.c */
CK_RV op_digest_init (tt_session *sess, const CK_MECHANISM *mech);
CK_RV op_digest (tt_session *sess, const CK_BYTE *data, CK_ULONG len, CK_BYTE *out,
                 CK_ULONG *out_len);
CK_RV op_digest_update (tt_session *sess, const CK_BYTE *data, CK_ULONG len);
CK_RV op_digest_final (tt_session *sess, CK_BYTE *out, CK_ULONG *out_len);
/* C_DigestKey: CKR_KEY_INDIGESTIBLE for every key (their values stay in the TPM). */
CK_RV op_digest_key (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE key);
/* C_SessionCancel (and an output call with bad arguments): ends the operations
 * named by flags (CKF_SIGN, CKF_VERIFY, CKF_DIGEST, CKF_FIND_OBJECTS); CKR_OK. */
CK_RV op_cancel (tt_session *sess, CK_FLAGS flags);
/* C_GetOperationState: CKR_OPERATION_NOT_INITIALIZED with nothing active, else
 * CKR_STATE_UNSAVEABLE (TPM operations cannot be saved). */
CK_RV op_state_unsaveable (tt_session *sess);
/* verify: false for C_Sign*, true for C_Verify* */
CK_RV op_sign_init (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE key, bool verify);
CK_RV op_sign (tt_token *tok, tt_session *sess, const CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
               CK_ULONG *sig_len);
CK_RV op_sign_update (tt_token *tok, tt_session *sess, bool verify, const CK_BYTE *data,
                      CK_ULONG len);
CK_RV op_sign_final (tt_token *tok, tt_session *sess, CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV op_verify (tt_token *tok, tt_session *sess, const CK_BYTE *data, CK_ULONG len,
                 const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV op_verify_final (tt_token *tok, tt_session *sess, const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV op_random (CK_BYTE *out, CK_ULONG len);
/* C_SeedRandom: mixed into the TPM's RNG (TPM2_StirRandom). */
CK_RV op_seed_random (const CK_BYTE *seed, CK_ULONG len);

#endif
