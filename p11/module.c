/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki boundary: argument checks, session lookup and locking, one core
 * call per entry point. The only exports are C_GetFunctionList,
 * C_GetInterfaceList and C_GetInterface (see p11/module.map).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "p11"
#include "core/core.h"
#include "base/log.h"

#define EXPORT __attribute__ ((visibility ("default")))

/* The 3.0 exports (p11-kit 0.24's header declares only C_GetFunctionList). */
EXPORT CK_RV C_GetInterfaceList (CK_INTERFACE_PTR list, CK_ULONG_PTR count);
EXPORT CK_RV C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                             CK_INTERFACE_PTR_PTR out, CK_FLAGS flags);

static int strict = -1;

/* Programmer errors: CKR_ARGUMENTS_BAD, or abort under TPMTRUST_STRICT (tests). */
#define return_val_if_fail(expr, val)                                                            \
    do {                                                                                         \
        if (!(expr)) {                                                                           \
            LOG_DEBUG ("%s: '%s' not true", __func__, #expr);                                    \
            if (strict < 0)                                                                      \
                strict = getenv ("TPMTRUST_STRICT") != NULL;                                     \
            if (strict && (val) != CKR_ARGUMENTS_BAD)                                            \
                abort ();                                                                        \
            return (val);                                                                        \
        }                                                                                        \
    } while (0)

static CK_RV
trace (const char *fn, CK_RV rv)
{
    if (rv != CKR_OK)
        LOG_DEBUG ("%s = 0x%lx", fn, rv);
    else
        LOG_TRACE ("%s = CKR_OK", fn);
    return rv;
}
#define TRACE(rv) trace (__func__ + 4, (rv))

static void
pad (CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen (src);
    memset (dst, ' ', len);
    memcpy (dst, src, n < len ? n : len);
}

static CK_RV
p11_C_Initialize (CK_VOID_PTR untrusted_args)
{
    CK_C_INITIALIZE_ARGS *args = untrusted_args;

    if (args != NULL) {
        bool some = args->CreateMutex || args->DestroyMutex || args->LockMutex
                    || args->UnlockMutex;
        bool all = args->CreateMutex && args->DestroyMutex && args->LockMutex
                   && args->UnlockMutex;
        if (args->pReserved != NULL)
            return TRACE (CKR_ARGUMENTS_BAD);
        if (some && !all)
            return TRACE (CKR_ARGUMENTS_BAD);
        /* With callbacks but no CKF_OS_LOCKING_OK we would have to use theirs:
         * we use OS locking, which the spec allows only when that flag is set. */
        if (all && !(args->flags & CKF_OS_LOCKING_OK))
            return TRACE (CKR_CANT_LOCK);
        /* CKF_LIBRARY_CANT_CREATE_OS_THREADS: fine, we never create threads. */
    }
    return TRACE (core_initialize ());
}

static CK_RV
p11_C_Finalize (CK_VOID_PTR reserved)
{
    return_val_if_fail (reserved == NULL, CKR_ARGUMENTS_BAD);
    return TRACE (core_finalize ());
}

/* C_GetInfo reports the Cryptoki version of the table it was called through. */
static CK_RV
get_info (CK_INFO_PTR info, CK_BYTE major, CK_BYTE minor)
{
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (info != NULL, CKR_ARGUMENTS_BAD);
    memset (info, 0, sizeof *info);
    info->cryptokiVersion.major = major;
    info->cryptokiVersion.minor = minor;
    pad (info->manufacturerID, sizeof info->manufacturerID, "tpmtrust");
    pad (info->libraryDescription, sizeof info->libraryDescription, "tpmtrust TPM 2.0 PKCS#11");
    info->libraryVersion.major = PACKAGE_VERSION_MAJOR;
    info->libraryVersion.minor = PACKAGE_VERSION_MINOR;
    return CKR_OK;
}

static CK_RV
p11_C_GetInfo (CK_INFO_PTR info)
{
    return get_info (info, 3, 0);
}

static CK_RV
p11_C_GetInfo_2_40 (CK_INFO_PTR info)
{
    return get_info (info, 2, 40);
}

static CK_RV
p11_C_GetSlotList (CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (count != NULL, CKR_ARGUMENTS_BAD);
    return TRACE (core_slot_list (present, list, count));
}

static CK_RV
p11_C_GetSlotInfo (CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (info != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        rv = token_slot_info_inlock (tok, info);
        core_leave (tok);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_GetTokenInfo (CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (info != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        rv = token_info_inlock (tok, info);
        core_leave (tok);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_GetMechanismList (CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (count != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        core_leave (tok);
        rv = mech_list (list, count);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_GetMechanismInfo (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (info != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        core_leave (tok);
        rv = mech_get_info (type, info);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_InitToken (CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (pin != NULL || pin_len == 0, CKR_ARGUMENTS_BAD);
    return_val_if_fail (label != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        rv = token_init_inlock (tok, pin, pin_len, label);
        core_leave (tok);
    }
    return TRACE (rv);
}

/* Session entry points: check init, find the session and lock its token,
 * one core call, core_leave (tok). */
static CK_RV
session_enter (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess)
{
    CK_RV rv = core_check ();
    if (rv == CKR_OK)
        rv = core_session_enter (h, tok, sess);
    return rv;
}

/* Bad arguments to a digest, sign or verify call: like any other error but a
 * length query, they end the operation (2.40 §5.10-5.12, C_Sign: "always
 * terminates the active signing operation unless ..."). */
static CK_RV
bad_arguments (tt_session *sess, CK_FLAGS op)
{
    op_cancel (sess, op);
    return CKR_ARGUMENTS_BAD;
}

static CK_RV
p11_C_InitPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    if (pin == NULL && pin_len > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = token_init_pin_inlock (tok, sess, pin, pin_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SetPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG old_len, CK_UTF8CHAR_PTR pin,
              CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((old == NULL && old_len > 0) || (pin == NULL && pin_len > 0))
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = token_set_pin_inlock (tok, sess, old, old_len, pin, pin_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_OpenSession (CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                   CK_SESSION_HANDLE_PTR out)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    (void) app;
    (void) notify;
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (out != NULL, CKR_ARGUMENTS_BAD);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        rv = core_session_open_inlock (tok, flags, out);
        core_leave (tok);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_CloseSession (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = core_session_close_inlock (tok, sess);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_CloseAllSessions (CK_SLOT_ID slot)
{
    tt_token *tok;
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        core_token_close_sessions_inlock (tok);
        core_leave (tok);
    }
    return TRACE (rv);
}

static CK_RV
p11_C_GetSessionInfo (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (info == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = core_session_info_inlock (tok, sess, info);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) state;
    (void) len;
    rv = op_state_unsaveable (sess);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG len,
                         CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    (void) state;
    (void) len;
    (void) enc_key;
    (void) auth_key;
    rv = CKR_SAVED_STATE_INVALID;
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_Login (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (pin == NULL) /* no protected authentication path: the PIN is given */
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = token_login_inlock (tok, sess, user, pin, pin_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_LoginUser (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                 CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
    /* Tokens here have one user of each type: a user name is accepted and not used. */
    if (username == NULL && username_len > 0) {
        CK_RV rv = core_check ();
        return TRACE (rv != CKR_OK ? rv : CKR_ARGUMENTS_BAD);
    }
    return p11_C_Login (h, user, pin, pin_len);
}

static CK_RV
p11_C_Logout (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = token_logout_checked_inlock (tok);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_CreateObject (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE_PTR out)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((tmpl == NULL && count > 0) || out == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_create_inlock (tok, sess, tmpl, count, out);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_CopyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                  CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((tmpl == NULL && count > 0) || out == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_copy_inlock (tok, sess, obj, tmpl, count, out);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DestroyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = object_destroy_inlock (tok, sess, obj);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GetObjectSize (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (size == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_size_inlock (tok, sess, obj, size);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_get_attrs_inlock (tok, sess, obj, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_set_attrs_inlock (tok, sess, obj, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_FindObjectsInit (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_find_init_inlock (tok, sess, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_FindObjects (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                   CK_ULONG_PTR count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((out == NULL && max > 0) || count == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_find_inlock (tok, sess, out, max, count);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_FindObjectsFinal (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = object_find_final_inlock (tok, sess);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DigestInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_digest_init (sess, mech);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_Digest (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || out_len == NULL)
        rv = bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest (sess, data, len, out, out_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DigestUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest_update (sess, data, len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DigestKey (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_digest_key (tok, sess, key);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DigestFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (out_len == NULL)
        rv = bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest_final (sess, out, out_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SignInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_sign_init (tok, sess, mech, key, false);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_Sign (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG_PTR sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || sig_len == NULL)
        rv = bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign (tok, sess, data, len, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SignUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign_update (tok, sess, false, data, len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SignFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (sig_len == NULL)
        rv = bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign_final (tok, sess, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_VerifyInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_sign_init (tok, sess, mech, key, true);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_Verify (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
              CK_ULONG sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || (sig == NULL && sig_len > 0))
        rv = bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_verify (tok, sess, data, len, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_VerifyUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_sign_update (tok, sess, true, data, len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_VerifyFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (sig == NULL && sig_len > 0)
        rv = bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_verify_final (tok, sess, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GenerateKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (mech == NULL || (tmpl == NULL && count > 0) || key == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = secret_generate_inlock (tok, sess, mech, tmpl, count, key);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_DeriveKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                 CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (mech == NULL || (tmpl == NULL && count > 0) || key == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = watchdog_derive_inlock (tok, sess, mech, base, tmpl, count, key);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GenerateKeyPair (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                       CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                       CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (mech == NULL || (pub_tmpl == NULL && pub_count > 0)
        || (priv_tmpl == NULL && priv_count > 0) || pub == NULL || priv == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_generate_pair_inlock (tok, sess, mech, pub_tmpl, pub_count, priv_tmpl,
                                          priv_count, pub, priv);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_SeedRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    (void) len;
    rv = seed == NULL && len > 0 ? CKR_ARGUMENTS_BAD : CKR_RANDOM_SEED_NOT_SUPPORTED;
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GenerateRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = out == NULL && len > 0 ? CKR_ARGUMENTS_BAD : op_random (out, len);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_GetFunctionStatus (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = CKR_FUNCTION_NOT_PARALLEL;
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV
p11_C_CancelFunction (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = CKR_FUNCTION_NOT_PARALLEL;
    core_leave (tok);
    return TRACE (rv);
}

/* CKF_DONT_BLOCK: the next slot event or CKR_NO_EVENT. A blocking wait is not
 * supported: the module starts no threads and has no notification to wait on. */
static CK_RV
p11_C_WaitForSlotEvent (CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    CK_RV rv = core_check ();
    if (rv != CKR_OK)
        return TRACE (rv);
    return_val_if_fail (slot != NULL, CKR_ARGUMENTS_BAD);
    return_val_if_fail (reserved == NULL, CKR_ARGUMENTS_BAD);
    if (!(flags & CKF_DONT_BLOCK))
        return TRACE (CKR_FUNCTION_NOT_SUPPORTED);
    return TRACE (core_slot_event (slot));
}

/* What we do not implement (all take a session first): an invalid session is
 * CKR_SESSION_HANDLE_INVALID as everywhere, else CKR_FUNCTION_NOT_SUPPORTED. */
static CK_RV
not_supported (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return rv;
    core_leave (tok);
    return CKR_FUNCTION_NOT_SUPPORTED;
}

#define UNSUPPORTED(name, args)                                                                  \
    static CK_RV p11_##name args                                                                 \
    {                                                                                            \
        return TRACE (not_supported (h));                                                        \
    }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
UNSUPPORTED (C_EncryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
UNSUPPORTED (C_Encrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                         CK_ULONG_PTR d))
UNSUPPORTED (C_EncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                               CK_ULONG_PTR d))
UNSUPPORTED (C_EncryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG_PTR b))
UNSUPPORTED (C_DecryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
UNSUPPORTED (C_Decrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                         CK_ULONG_PTR d))
UNSUPPORTED (C_DecryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                               CK_ULONG_PTR d))
UNSUPPORTED (C_DecryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG_PTR b))
UNSUPPORTED (C_SignRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
UNSUPPORTED (C_SignRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                             CK_ULONG_PTR d))
UNSUPPORTED (C_VerifyRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
UNSUPPORTED (C_VerifyRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                               CK_ULONG_PTR d))
UNSUPPORTED (C_DigestEncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b,
                                     CK_BYTE_PTR c, CK_ULONG_PTR d))
UNSUPPORTED (C_DecryptDigestUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b,
                                     CK_BYTE_PTR c, CK_ULONG_PTR d))
UNSUPPORTED (C_SignEncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c,
                                   CK_ULONG_PTR d))
UNSUPPORTED (C_DecryptVerifyUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR a, CK_ULONG b,
                                     CK_BYTE_PTR c, CK_ULONG_PTR d))
UNSUPPORTED (C_WrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE a,
                         CK_OBJECT_HANDLE b, CK_BYTE_PTR c, CK_ULONG_PTR d))
UNSUPPORTED (C_UnwrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE a,
                           CK_BYTE_PTR b, CK_ULONG c, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                           CK_OBJECT_HANDLE_PTR k))
UNSUPPORTED (C_MessageInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
UNSUPPORTED (C_CryptMessage, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR ad,
                              CK_ULONG adl, CK_BYTE_PTR in, CK_ULONG il, CK_BYTE_PTR out,
                              CK_ULONG_PTR ol))
UNSUPPORTED (C_CryptMessageBegin, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl,
                                   CK_BYTE_PTR ad, CK_ULONG adl))
UNSUPPORTED (C_CryptMessageNext, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl,
                                  CK_BYTE_PTR in, CK_ULONG il, CK_BYTE_PTR out, CK_ULONG_PTR ol,
                                  CK_FLAGS f))
UNSUPPORTED (C_MessageFinal, (CK_SESSION_HANDLE h))
UNSUPPORTED (C_SignMessage, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                             CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl))
UNSUPPORTED (C_SignMessageBegin, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl))
UNSUPPORTED (C_VerifyMessage, (CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
                               CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG sl))
#pragma GCC diagnostic pop

/* 3.0 §5.6.5: ends the operations named by flags; none of ours refuses to end. */
static CK_RV
p11_C_SessionCancel (CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_cancel (sess, flags);
    core_leave (tok);
    return TRACE (rv);
}

static CK_RV p11_C_GetFunctionList (CK_FUNCTION_LIST_PTR_PTR list);
static CK_RV p11_C_GetInterfaceList (CK_INTERFACE_PTR list, CK_ULONG_PTR count);
static CK_RV p11_C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                                 CK_INTERFACE_PTR_PTR out, CK_FLAGS flags);

#define COMMON_FUNCTIONS(get_info_fn)                                                            \
    p11_C_Initialize, p11_C_Finalize, get_info_fn, p11_C_GetFunctionList, p11_C_GetSlotList,   \
        p11_C_GetSlotInfo, p11_C_GetTokenInfo, p11_C_GetMechanismList, p11_C_GetMechanismInfo,   \
        p11_C_InitToken, p11_C_InitPIN, p11_C_SetPIN, p11_C_OpenSession, p11_C_CloseSession,     \
        p11_C_CloseAllSessions, p11_C_GetSessionInfo, p11_C_GetOperationState,                   \
        p11_C_SetOperationState, p11_C_Login, p11_C_Logout, p11_C_CreateObject,                  \
        p11_C_CopyObject, p11_C_DestroyObject, p11_C_GetObjectSize, p11_C_GetAttributeValue,     \
        p11_C_SetAttributeValue, p11_C_FindObjectsInit, p11_C_FindObjects,                       \
        p11_C_FindObjectsFinal, p11_C_EncryptInit, p11_C_Encrypt, p11_C_EncryptUpdate,           \
        p11_C_EncryptFinal, p11_C_DecryptInit, p11_C_Decrypt, p11_C_DecryptUpdate,               \
        p11_C_DecryptFinal, p11_C_DigestInit, p11_C_Digest, p11_C_DigestUpdate, p11_C_DigestKey, \
        p11_C_DigestFinal, p11_C_SignInit, p11_C_Sign, p11_C_SignUpdate, p11_C_SignFinal,        \
        p11_C_SignRecoverInit, p11_C_SignRecover, p11_C_VerifyInit, p11_C_Verify,                \
        p11_C_VerifyUpdate, p11_C_VerifyFinal, p11_C_VerifyRecoverInit, p11_C_VerifyRecover,     \
        p11_C_DigestEncryptUpdate, p11_C_DecryptDigestUpdate, p11_C_SignEncryptUpdate,           \
        p11_C_DecryptVerifyUpdate, p11_C_GenerateKey, p11_C_GenerateKeyPair, p11_C_WrapKey,      \
        p11_C_UnwrapKey, p11_C_DeriveKey, p11_C_SeedRandom, p11_C_GenerateRandom,                \
        p11_C_GetFunctionStatus, p11_C_CancelFunction, p11_C_WaitForSlotEvent

static CK_FUNCTION_LIST functions_2_40 = { { 2, 40 }, COMMON_FUNCTIONS (p11_C_GetInfo_2_40) };

static CK_FUNCTION_LIST_3_0 functions_3_0 = {
    { 3, 0 },
    COMMON_FUNCTIONS (p11_C_GetInfo),
    p11_C_GetInterfaceList,
    p11_C_GetInterface,
    p11_C_LoginUser,
    p11_C_SessionCancel,
    p11_C_MessageInit,
    p11_C_CryptMessage,
    p11_C_CryptMessageBegin,
    p11_C_CryptMessageNext,
    p11_C_MessageFinal,
    p11_C_MessageInit,
    p11_C_CryptMessage,
    p11_C_CryptMessageBegin,
    p11_C_CryptMessageNext,
    p11_C_MessageFinal,
    p11_C_MessageInit,
    p11_C_SignMessage,
    p11_C_SignMessageBegin,
    p11_C_SignMessage,
    p11_C_MessageFinal,
    p11_C_MessageInit,
    p11_C_VerifyMessage,
    p11_C_SignMessageBegin,
    p11_C_VerifyMessage,
    p11_C_MessageFinal,
};

static CK_INTERFACE interfaces[] = {
    { (CK_UTF8CHAR *) "PKCS 11", &functions_3_0, CKF_INTERFACE_FORK_SAFE },
    { (CK_UTF8CHAR *) "PKCS 11", &functions_2_40, CKF_INTERFACE_FORK_SAFE },
};
#define N_INTERFACES (sizeof interfaces / sizeof interfaces[0])

static CK_RV
p11_C_GetFunctionList (CK_FUNCTION_LIST_PTR_PTR list)
{
    return_val_if_fail (list != NULL, CKR_ARGUMENTS_BAD);
    *list = &functions_2_40;
    return CKR_OK;
}

static CK_RV
p11_C_GetInterfaceList (CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    return_val_if_fail (count != NULL, CKR_ARGUMENTS_BAD);
    if (list == NULL) {
        *count = N_INTERFACES;
        return CKR_OK;
    }
    if (*count < N_INTERFACES) {
        *count = N_INTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy (list, interfaces, sizeof interfaces);
    *count = N_INTERFACES;
    return CKR_OK;
}

static CK_RV
p11_C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR out,
                    CK_FLAGS flags)
{
    return_val_if_fail (out != NULL, CKR_ARGUMENTS_BAD);
    for (size_t i = 0; i < N_INTERFACES; i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;
        if (name != NULL && strcmp ((const char *) name, "PKCS 11") != 0)
            continue;
        if (version != NULL && (v->major != version->major || v->minor != version->minor))
            continue;
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *out = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

EXPORT CK_RV
C_GetFunctionList (CK_FUNCTION_LIST_PTR_PTR list)
{
    return p11_C_GetFunctionList (list);
}

EXPORT CK_RV
C_GetInterfaceList (CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    return p11_C_GetInterfaceList (list, count);
}

EXPORT CK_RV
C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR out,
                CK_FLAGS flags)
{
    return p11_C_GetInterface (name, version, out, flags);
}
