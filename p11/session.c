/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki boundary for PINs, sessions and login: argument checks,
 * p11_session_enter (session lookup and token lock), one core call, core_leave.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "p11/p11.h"

CK_RV
p11_C_InitPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

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

CK_RV
p11_C_SetPIN (CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG old_len, CK_UTF8CHAR_PTR pin,
              CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((old == NULL && old_len > 0) || (pin == NULL && pin_len > 0))
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = token_set_pin_inlock (tok, sess, old, old_len, pin, pin_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
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

CK_RV
p11_C_CloseSession (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = core_check ();

    if (rv == CKR_OK)
        rv = core_session_enter_to_close (h, &tok, &sess);
    if (rv != CKR_OK)
        return TRACE (rv);
    rv = core_session_close_inlock (tok, sess);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
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

CK_RV
p11_C_GetSessionInfo (CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (info == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = core_session_info_inlock (tok, sess, info);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) state; /* NULL: a length query, but there is never a state to save */
    rv = len == NULL ? CKR_ARGUMENTS_BAD : op_state_unsaveable (sess);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_SetOperationState (CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG len,
                         CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    (void) enc_key;
    (void) auth_key;
    rv = state == NULL || len == 0 ? CKR_ARGUMENTS_BAD : CKR_SAVED_STATE_INVALID;
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_Login (CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (pin == NULL) /* no protected authentication path: the PIN is given */
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = token_login_inlock (tok, sess, user, pin, pin_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
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

CK_RV
p11_C_Logout (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = token_logout_checked_inlock (tok);
    core_leave (tok);
    return TRACE (rv);
}
