/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki boundary: the 2.40 and 3.0 function tables, the interfaces,
 * initialization, slots, tokens and mechanisms, and what is not implemented.
 * The only exports are C_GetFunctionList, C_GetInterfaceList and C_GetInterface
 * (see p11/module.map); the other entry points are in p11/session.c,
 * p11/object.c and p11/crypto.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "p11/p11.h"


/* The 3.0 exports (p11-kit 0.24's header declares only C_GetFunctionList). */
EXPORT CK_RV C_GetInterfaceList (CK_INTERFACE_PTR list, CK_ULONG_PTR count);
EXPORT CK_RV C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                             CK_INTERFACE_PTR_PTR out, CK_FLAGS flags);

int p11_strict = -1;

CK_RV
p11_trace (const char *fn, CK_RV rv)
{
    if (rv != CKR_OK)
        LOG_DEBUG ("%s = 0x%lx", fn, rv);
    else
        LOG_TRACE ("%s = CKR_OK", fn);
    return rv;
}

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

CK_RV
p11_session_enter (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess)
{
    CK_RV rv = core_check ();
    if (rv == CKR_OK)
        rv = core_session_enter (h, tok, sess);
    return rv;
}

CK_RV
p11_bad_arguments (tt_session *sess, CK_FLAGS op)
{
    op_cancel (sess, op);
    return CKR_ARGUMENTS_BAD;
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
    CK_RV rv = p11_session_enter (h, &tok, &sess);

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
    CK_RV rv = p11_session_enter (h, &tok, &sess);

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

/* Not CKF_INTERFACE_FORK_SAFE: a forked child starts with the module
 * uninitialized (CKR_CRYPTOKI_NOT_INITIALIZED until its own C_Initialize), as
 * in 2.40, and a caller asking C_GetInterface for fork-safe semantics gets no
 * interface. */
static CK_INTERFACE interfaces[] = {
    { (CK_UTF8CHAR *) "PKCS 11", &functions_3_0, 0 },
    { (CK_UTF8CHAR *) "PKCS 11", &functions_2_40, 0 },
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
