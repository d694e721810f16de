/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki boundary for objects: argument checks,
 * p11_session_enter (session lookup and token lock), one core call, core_leave.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "p11/p11.h"

CK_RV
p11_C_CreateObject (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE_PTR out)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((tmpl == NULL && count > 0) || out == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_create_inlock (tok, sess, tmpl, count, out);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_CopyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                  CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((tmpl == NULL && count > 0) || out == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_copy_inlock (tok, sess, obj, tmpl, count, out);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_DestroyObject (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = object_destroy_inlock (tok, sess, obj);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GetObjectSize (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (size == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_size_inlock (tok, sess, obj, size);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_GetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_get_attrs_inlock (tok, sess, obj, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_SetAttributeValue (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                         CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_set_attrs_inlock (tok, sess, obj, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_FindObjectsInit (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if (tmpl == NULL && count > 0)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_find_init_inlock (tok, sess, tmpl, count);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_FindObjects (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                   CK_ULONG_PTR count)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    if ((out == NULL && max > 0) || count == NULL)
        rv = CKR_ARGUMENTS_BAD;
    else
        rv = object_find_inlock (tok, sess, out, max, count);
    core_leave (tok);
    return TRACE (rv);
}

CK_RV
p11_C_FindObjectsFinal (CK_SESSION_HANDLE h)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = p11_session_enter (h, &tok, &sess);

    if (rv != CKR_OK)
        return TRACE (rv);
    rv = object_find_final_inlock (tok, sess);
    core_leave (tok);
    return TRACE (rv);
}
