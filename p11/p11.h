/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the files of the Cryptoki boundary share. Each p11_C_<Name> is a thin
 * wrapper: NULL checks, p11_session_enter (find the session, lock its token),
 * one core call, core_leave, TRACE. Only core/core.h and the ground floor are
 * included: p11/ sees no core internals.
 */
#ifndef TT_P11_H
#define TT_P11_H

#include <stdlib.h>

#ifndef LOG_MODULE
#define LOG_MODULE "p11"
#endif
#include "base/log.h"
#include "core/core.h"

#define EXPORT __attribute__ ((visibility ("default")))

/* TPMTRUST_STRICT set: -1 until first read (p11/module.c). */
extern int p11_strict;

/* Programmer errors: CKR_ARGUMENTS_BAD, or abort under TPMTRUST_STRICT (tests). */
#define return_val_if_fail(expr, val)                                                            \
    do {                                                                                         \
        if (!(expr)) {                                                                           \
            LOG_DEBUG ("%s: '%s' not true", __func__, #expr);                                    \
            if (p11_strict < 0)                                                                  \
                p11_strict = getenv ("TPMTRUST_STRICT") != NULL;                                 \
            if (p11_strict && (val) != CKR_ARGUMENTS_BAD)                                        \
                abort ();                                                                        \
            return (val);                                                                        \
        }                                                                                        \
    } while (0)

/* Logs fn's result (debug for errors, trace for CKR_OK) and returns it. */
CK_RV p11_trace (const char *fn, CK_RV rv);
#define TRACE(rv) p11_trace (__func__ + 4, (rv))

/* Session entry points: checks initialization, finds the session and returns
 * with its token locked (CKR_OK only); the caller makes one core call, then
 * core_leave (tok). */
CK_RV p11_session_enter (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess);

/* Bad arguments to a digest, sign or verify call: like any other error but a
 * length query, they end the operation named by op (2.40 §5.10-5.12, C_Sign:
 * "always terminates the active signing operation unless ..."). Returns
 * CKR_ARGUMENTS_BAD. */
CK_RV p11_bad_arguments (tt_session *sess, CK_FLAGS op);

/* The entry points of the function tables (p11/module.c) defined elsewhere. */
/* p11/session.c */
CK_RV p11_C_InitPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV p11_C_SetPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG old_len, CK_UTF8CHAR_PTR pin,
              CK_ULONG pin_len);
CK_RV p11_C_OpenSession (CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                   CK_SESSION_HANDLE_PTR out);
CK_RV p11_C_CloseSession (CK_SESSION_HANDLE h);
CK_RV p11_C_CloseAllSessions (CK_SLOT_ID slot);
CK_RV p11_C_GetSessionInfo (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
CK_RV p11_C_GetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR len);
CK_RV p11_C_SetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG len,
                         CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key);
CK_RV p11_C_Login (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV p11_C_LoginUser (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                       CK_ULONG pin_len,
                 CK_UTF8CHAR_PTR username, CK_ULONG username_len);
CK_RV p11_C_Logout (CK_SESSION_HANDLE h);
/* p11/object.c */
CK_RV p11_C_CreateObject (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE_PTR out);
CK_RV p11_C_CopyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                  CK_ULONG count, CK_OBJECT_HANDLE_PTR out);
CK_RV p11_C_DestroyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV p11_C_GetObjectSize (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size);
CK_RV p11_C_GetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count);
CK_RV p11_C_SetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count);
CK_RV p11_C_FindObjectsInit (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV p11_C_FindObjects (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                   CK_ULONG_PTR count);
CK_RV p11_C_FindObjectsFinal (CK_SESSION_HANDLE h);
/* p11/crypto.c */
CK_RV p11_C_DigestInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech);
CK_RV p11_C_Digest (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len);
CK_RV p11_C_DigestUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11_C_DigestKey (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key);
CK_RV p11_C_DigestFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV p11_C_SignInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV p11_C_Sign (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG_PTR sig_len);
CK_RV p11_C_SignUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11_C_SignFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV p11_C_VerifyInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV p11_C_Verify (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
              CK_ULONG sig_len);
CK_RV p11_C_VerifyUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11_C_VerifyFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV p11_C_GenerateKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
CK_RV p11_C_DeriveKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                 CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
CK_RV p11_C_GenerateKeyPair (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                       CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                       CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv);
CK_RV p11_C_SeedRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len);
CK_RV p11_C_GenerateRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len);
CK_RV p11_C_GetFunctionStatus (CK_SESSION_HANDLE h);
CK_RV p11_C_CancelFunction (CK_SESSION_HANDLE h);

#endif
