/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki boundary for digest, sign, verify, keys and random: argument checks,
 * p11_session_enter (session lookup and token lock), one core call, core_leave.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "p11/p11.h"

CK_RV
p11_C_DigestInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_digest_init (sess, mech);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_Digest (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || out_len == NULL)
        rv = p11_bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest (sess, data, len, out, out_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_DigestUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = p11_bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest_update (sess, data, len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_DigestKey (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_digest_key (tok, sess, key);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_DigestFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (out_len == NULL)
        rv = p11_bad_arguments (sess, CKF_DIGEST);
    else
        rv = op_digest_final (sess, out, out_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_SignInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_sign_init (tok, sess, mech, key, false);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_Sign (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
            CK_ULONG_PTR sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || sig_len == NULL)
        rv = p11_bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign (tok, sess, data, len, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_SignUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = p11_bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign_update (tok, sess, false, data, len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_SignFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (sig_len == NULL)
        rv = p11_bad_arguments (sess, CKF_SIGN);
    else
        rv = op_sign_final (tok, sess, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_VerifyInit (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = op_sign_init (tok, sess, mech, key, true);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_Verify (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
              CK_ULONG sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((data == NULL && len > 0) || (sig == NULL && sig_len > 0))
        rv = p11_bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_verify (tok, sess, data, len, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_VerifyUpdate (CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (data == NULL && len > 0)
        rv = p11_bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_sign_update (tok, sess, true, data, len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_VerifyFinal (CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (sig == NULL && sig_len > 0)
        rv = p11_bad_arguments (sess, CKF_VERIFY);
    else
        rv = op_verify_final (tok, sess, sig, sig_len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GenerateKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (mech == NULL || (tmpl == NULL && count > 0) || key == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_generate_key_inlock (tok, sess, mech, tmpl, count, key);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_DeriveKey (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                 CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (mech == NULL || (tmpl == NULL && count > 0) || key == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_derive_key_inlock (tok, sess, mech, base, tmpl, count, key);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GenerateKeyPair (CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
                       CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                       CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

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

CK_RV
p11_C_SeedRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = seed == NULL && len > 0 ? CKR_ARGUMENTS_BAD : op_seed_random (seed, len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GenerateRandom (CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = out == NULL && len > 0 ? CKR_ARGUMENTS_BAD : op_random (out, len);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GetFunctionStatus (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = CKR_FUNCTION_NOT_PARALLEL;
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_CancelFunction (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    (void) sess;
    rv = CKR_FUNCTION_NOT_PARALLEL;
    core_leave (tok);
    return TRACE (rv);
}
