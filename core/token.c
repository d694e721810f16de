/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Tokens and PINs. A token's random secret is sealed in the TPM twice: under
 * authValue = KDF(SO PIN, salt) and under KDF(user PIN, salt). Login is an
 * Unseal, so the TPM checks the PIN and counts failures toward its
 * dictionary-attack lockout; the store alone reveals nothing. Each seal holds
 * its role's tag before the secret (issue 15 item 6): a user seal copied into
 * the SO columns does not make the user PIN an SO PIN.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "token"
#include "internal.h"
#include "anchor.h"
#include "rowmac.h"
#include "keys/keytype.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define SECRET_LEN 32
#define SALT_LEN 16
#define ROLE_SO 'S'
#define ROLE_USER 'U'

static void
pad (CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen (src);
    memset (dst, ' ', len);
    memcpy (dst, src, n < len ? n : len);
}

void
token_free (tt_token *tok)
{
    if (tok == NULL)
        return;
    object_drop_all_inlock (tok);
    secbuf_free (tok->secret);
    secbuf_free (tok->rowkey);
    store_token_clear (&tok->rec);
    pthread_mutex_destroy (&tok->lock);
    free (tok);
}

const char *
token_label (const tt_token *tok)
{
    return tok->rec.label;
}

const char *
token_serial (const tt_token *tok)
{
    return tok->rec.serial;
}

CK_RV
token_slot_info_inlock (tt_token *tok, CK_SLOT_INFO *info)
{
    char desc[65];

    snprintf (desc, sizeof desc, "tpmtrust TPM 2.0 slot %lu", (unsigned long) tok->slot_id);
    pad (info->slotDescription, sizeof info->slotDescription, desc);
    pad (info->manufacturerID, sizeof info->manufacturerID, "tpmtrust");
    info->flags = CKF_HW_SLOT | (tok->removed ? 0 : CKF_TOKEN_PRESENT);
    info->hardwareVersion.major = 2;
    info->hardwareVersion.minor = 0;
    info->firmwareVersion.major = PACKAGE_VERSION_MAJOR;
    info->firmwareVersion.minor = PACKAGE_VERSION_MINOR;
    return CKR_OK;
}

static CK_FLAGS
pin_count_flags (bool so)
{
    tpm_info ti = { 0 };
    CK_FLAGS f = 0;

    /* The TPM's lockout counter is shared by every DA-protected object. */
    if (tpm_get_lockout (core_tpm (), &ti) != CKR_OK || ti.max_auth_fail == 0)
        return 0;
    if (ti.in_lockout || ti.lockout_counter >= ti.max_auth_fail)
        f = so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
    else if (ti.lockout_counter + 1 >= ti.max_auth_fail)
        f = so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
    else if (ti.lockout_counter > 0)
        f = so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
    return f;
}

/* A read-only store (or one with a newer schema): nothing on the token can change. */
static bool
store_write_protected (void)
{
    store *st;
    return core_store (&st) == CKR_OK && store_readonly (st);
}

CK_RV
token_info_inlock (tt_token *tok, CK_TOKEN_INFO *info)
{
    if (tok->removed)
        return CKR_TOKEN_NOT_PRESENT;
    memset (info, 0, sizeof *info);
    pad (info->label, sizeof info->label, tok->rec.label);
    pad (info->manufacturerID, sizeof info->manufacturerID, "tpmtrust");
    pad (info->model, sizeof info->model, "TPM 2.0");
    pad (info->serialNumber, sizeof info->serialNumber, tok->rec.serial);
    pad (info->utcTime, sizeof info->utcTime, "");
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
    if (store_write_protected ())
        info->flags |= CKF_WRITE_PROTECTED;
    if (tok->rec.id != 0) {
        CK_FLAGS count = pin_count_flags (false);
        info->flags |= CKF_TOKEN_INITIALIZED;
        if (tok->rec.user_pub.data != NULL)
            info->flags |= CKF_USER_PIN_INITIALIZED;
        /* One TPM counter stands behind both PINs. */
        info->flags |= count;
        info->flags |= count == CKF_USER_PIN_LOCKED      ? CKF_SO_PIN_LOCKED
                       : count == CKF_USER_PIN_FINAL_TRY ? CKF_SO_PIN_FINAL_TRY
                       : count == CKF_USER_PIN_COUNT_LOW ? CKF_SO_PIN_COUNT_LOW
                                                         : 0;
    }
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = tok->sessions;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulRwSessionCount = tok->rw_sessions;
    info->ulMaxPinLen = TT_MAX_PIN;
    info->ulMinPinLen = TT_MIN_PIN;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 2;
    info->firmwareVersion.major = PACKAGE_VERSION_MAJOR;
    info->firmwareVersion.minor = PACKAGE_VERSION_MINOR;
    return CKR_OK;
}

static CK_RV
pin_check_len (CK_ULONG len)
{
    if (len < TT_MIN_PIN || len > TT_MAX_PIN) {
        LOG_ERROR ("a PIN must have %d to %d bytes", TT_MIN_PIN, TT_MAX_PIN);
        return CKR_PIN_LEN_RANGE;
    }
    return CKR_OK;
}

/* Seals role || secret under KDF(pin, salt) into pub/priv. */
static CK_RV
seal_under_pin (const store_token *rec, bool so, const secbuf *secret, const CK_UTF8CHAR *pin,
                CK_ULONG pin_len, store_blob *pub, store_blob *priv)
{
    secbuf *auth = NULL, *tagged = secbuf_new (1 + secret->len);
    tpm_blob p = { 0 }, s = { 0 };
    CK_RV rv = tagged == NULL
                   ? CKR_HOST_MEMORY
                   : crypto_pin_auth (rec->salt.data, rec->salt.len, pin, pin_len, &auth);

    if (rv == CKR_OK) {
        tagged->data[0] = so ? ROLE_SO : ROLE_USER;
        memcpy (tagged->data + 1, secret->data, secret->len);
        rv = tpm_seal (core_tpm (), auth, tagged, true, NULL, &p, &s);
    }
    if (rv == CKR_OK)
        rv = store_blob_set (pub, p.data, p.len);
    if (rv == CKR_OK)
        rv = store_blob_set (priv, s.data, s.len);
    secbuf_free (auth);
    secbuf_free (tagged);
    tpm_blob_clear (&p);
    tpm_blob_clear (&s);
    return rv;
}

/* Loads (and flushes) a stored blob: CKR_OK, CKR_TPMTRUST_OBJECT_DAMAGED when
 * the TPM rejects it, or why the TPM could not be asked. */
static CK_RV
blob_loads (tpm *t, const store_blob *pub, const store_blob *priv)
{
    tpm_blob p = { pub->data, pub->len }, s = { priv->data, priv->len };
    return tpm_key_check (t, &p, &s);
}

CK_RV
token_tpm_check (tpm *t, const store_token *rec)
{
    store_object *objs = NULL;
    size_t n_objs = 0, tried = 0, good = 0;
    store *st = NULL;
    CK_RV rv = blob_loads (t, &rec->so_pub, &rec->so_priv);

    if (rv != CKR_OK && rv != CKR_TPMTRUST_OBJECT_DAMAGED)
        return rv;
    tried++;
    good += rv == CKR_OK;
    if (rec->user_pub.data != NULL) {
        rv = blob_loads (t, &rec->user_pub, &rec->user_priv);
        if (rv != CKR_OK && rv != CKR_TPMTRUST_OBJECT_DAMAGED)
            return rv;
        tried++;
        good += rv == CKR_OK;
    }
    /* and one TPM object of the token, if it has any */
    if (core_store (&st) == CKR_OK && store_object_list (st, rec->id, &objs, &n_objs) == CKR_OK) {
        for (size_t i = 0; i < n_objs; i++) {
            if (objs[i].tpm_pub.data == NULL || objs[i].tpm_priv.data == NULL)
                continue;
            rv = blob_loads (t, &objs[i].tpm_pub, &objs[i].tpm_priv);
            if (rv == CKR_OK || rv == CKR_TPMTRUST_OBJECT_DAMAGED) {
                tried++;
                good += rv == CKR_OK;
            }
            break;
        }
        store_object_list_free (objs, n_objs);
    }
    if (good == tried && tried > 0)
        return CKR_OK;
    if (good > 0) {
        LOG_ERROR ("token '%s': the TPM rejects some of its stored blobs but not others: those "
                   "store rows are damaged (the TPM itself still holds the token)",
                   rec->label);
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    if (tried > 1)
        LOG_ERROR ("token '%s' (serial %s): the TPM rejects every blob of it: the TPM was cleared "
                   "since this token was created (or the store comes from another TPM): its keys "
                   "are gone; initialize the token again (C_InitToken, or 'tpmtrust-tool token "
                   "delete' and 'token init')",
                   rec->label, rec->serial);
    else
        LOG_ERROR ("token '%s' (serial %s): the TPM rejects its sealed secret: the TPM was "
                   "cleared since this token was created (or the store comes from another TPM, "
                   "or the token's row is damaged): initialize the token again (C_InitToken, or "
                   "'tpmtrust-tool token delete' and 'token init')",
                   rec->label, rec->serial);
    return CKR_TOKEN_NOT_RECOGNIZED;
}

/* The token secret from the role's seal. *untagged: the seal predates role
 * tags (a store of an earlier version): taken as it is, and sealed again with
 * its tag at this login (put_seal_inlock). */
static CK_RV
unseal_with_pin (const store_token *rec, bool so, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                 secbuf **secret, bool *untagged)
{
    const store_blob *pub = so ? &rec->so_pub : &rec->user_pub;
    const store_blob *priv = so ? &rec->so_priv : &rec->user_priv;
    tpm_blob p = { pub->data, pub->len }, s = { priv->data, priv->len };
    secbuf *auth = NULL, *data = NULL;
    CK_RV rv = crypto_pin_auth (rec->salt.data, rec->salt.len, pin, pin_len, &auth);
    tpm_key k = { &p, &s, auth, { 0, 0 } };

    *secret = NULL;
    *untagged = false;
    if (rv == CKR_OK)
        rv = tpm_unseal (core_tpm (), &k, &data);
    secbuf_free (auth);
    if (rv == CKR_PIN_INCORRECT)
        LOG_WARN ("token '%s': wrong %s PIN (the TPM counts this toward its lockout)", rec->label,
                  so ? "SO" : "user");
    if (rv == CKR_OK && data->len == SECRET_LEN) {
        *untagged = true;
        *secret = data;
        data = NULL;
    } else if (rv == CKR_OK && data->len == 1 + SECRET_LEN
               && data->data[0] == (so ? ROLE_SO : ROLE_USER)) {
        *secret = secbuf_dup (data->data + 1, SECRET_LEN);
        rv = *secret != NULL ? CKR_OK : CKR_HOST_MEMORY;
    } else if (rv == CKR_OK && data->len == 1 + SECRET_LEN) {
        LOG_ERROR ("token '%s': its %s seal holds the %s's tag: the token row was changed "
                   "outside tpmtrust (a seal copied from the other role); refused",
                   rec->label, so ? "SO" : "user", so ? "user" : "SO");
        rv = CKR_PIN_INCORRECT;
    } else if (rv == CKR_OK) {
        LOG_ERROR ("token %s: the unsealed token secret has the wrong size", rec->serial);
        rv = CKR_DEVICE_ERROR;
    }
    secbuf_free (data);
    if (rv == CKR_TPMTRUST_OBJECT_DAMAGED) {
        /* not a PIN matter: was the TPM cleared (CKR_TOKEN_NOT_RECOGNIZED), or
         * is this row damaged? */
        rv = token_tpm_check (core_tpm (), rec);
        if (rv != CKR_TOKEN_NOT_RECOGNIZED)
            rv = CKR_DEVICE_ERROR;
    }
    return rv;
}

static CK_RV
random_secbuf (size_t len, secbuf **out)
{
    secbuf *b = secbuf_new (len);
    CK_RV rv = b ? tpm_random (core_tpm (), b->data, len) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        secbuf_free (b);
        b = NULL;
    }
    *out = b;
    return rv;
}

CK_RV
token_init_inlock (tt_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                   const CK_UTF8CHAR *label)
{
    store_token rec = { 0 };
    secbuf *secret = NULL, *old = NULL, *rowkey = NULL;
    uint8_t salt[SALT_LEN], serial[8];
    store *st = NULL;
    size_t n;
    bool untagged;
    uint32_t prev_index = tok->rec.id != 0 ? tok->rec.nv_index : 0;
    CK_RV rv = pin_check_len (pin_len);

    if (rv != CKR_OK)
        return rv;
    if (tok->removed)
        return CKR_TOKEN_NOT_PRESENT;
    if (tok->sessions > 0)
        return CKR_SESSION_EXISTS;
    rv = core_store (&st);
    if (rv == CKR_OK)
        rv = store_write_check (st);
    /* Re-initializing needs the SO PIN of the token as it is, unless the TPM
     * holds nothing of it any more (cleared): its keys are gone already. */
    if (rv == CKR_OK && tok->rec.id != 0) {
        rv = unseal_with_pin (&tok->rec, true, pin, pin_len, &old, &untagged);
        if (rv == CKR_DEVICE_ERROR && tpm_connected (core_tpm ()))
            rv = token_tpm_check (core_tpm (), &tok->rec) == CKR_TOKEN_NOT_RECOGNIZED
                     ? CKR_TOKEN_NOT_RECOGNIZED
                     : rv;
        if (rv == CKR_TOKEN_NOT_RECOGNIZED) {
            LOG_WARN ("token '%s': re-initialized without checking its old SO PIN: the TPM "
                      "holds nothing of it any more (cleared), its keys were gone already",
                      tok->rec.label);
            rv = CKR_OK;
        }
    }
    secbuf_free (old);
    if (rv == CKR_OK)
        rv = random_secbuf (SECRET_LEN, &secret);
    if (rv == CKR_OK)
        rv = tpm_random (core_tpm (), salt, sizeof salt);
    if (rv == CKR_OK)
        rv = tpm_random (core_tpm (), serial, sizeof serial);
    if (rv != CKR_OK)
        goto out;
    /* label: 32 bytes, blank padded; ours is trimmed */
    memcpy (rec.label, label, 32);
    for (n = 32; n > 0 && (rec.label[n - 1] == ' ' || rec.label[n - 1] == '\0'); n--)
        ;
    rec.label[n] = '\0';
    if (tok->rec.id != 0)
        memcpy (rec.serial, tok->rec.serial, sizeof rec.serial);
    else
        sodium_bin2hex (rec.serial, sizeof rec.serial, serial, sizeof serial);
    rv = store_blob_set (&rec.salt, salt, sizeof salt);
    if (rv == CKR_OK)
        rv = seal_under_pin (&rec, true, secret, pin, pin_len, &rec.so_pub, &rec.so_priv);
    if (rv == CKR_OK) /* the key that authenticates its public rows (rowmac.c) */
        rv = rowmac_new_key (&rec, &rowkey);
    if (rv != CKR_OK)
        goto out;

    rv = store_tx_begin (st);
    if (rv != CKR_OK)
        goto out;
    if (tok->rec.id != 0) {
        store_token now;
        bool found = false;
        rec.id = tok->rec.id;
        /* the generation goes on from the row's: a process that read the old
         * token never matches the new one (token_current_inlock) */
        rv = store_token_get (st, rec.id, &now, &found);
        rec.generation = (found ? now.generation : tok->rec.generation) + 1;
        store_token_clear (&now);
        if (rv == CKR_OK)
            rv = store_token_del (st, rec.id); /* and its objects */
        if (rv == CKR_OK)
            rv = store_token_add (st, &rec, tok->rec.id);
    } else {
        rv = store_token_add (st, &rec, (int64_t) tok->slot_id);
    }
    /* its anchor: the counter for its serial, settled below (anchor_settle_inlock),
     * and the row's MAC, which covers the id just given */
    rec.nv_index = prev_index != 0 ? prev_index : tpm_counter_index (rec.serial);
    rec.nv_count = 0;
    if (rv == CKR_OK)
        rv = rowmac_token_sign (secret, &rec);
    if (rv == CKR_OK)
        rv = store_token_put (st, &rec);
    if (rv == CKR_OK)
        rv = store_tx_commit (st);
    if (rv != CKR_OK) {
        store_tx_rollback (st);
        goto out;
    }
    object_drop_all_inlock (tok);
    store_token_clear (&tok->rec);
    tok->rec = rec;
    memset (&rec, 0, sizeof rec);
    secbuf_free (tok->rowkey);
    tok->rowkey = rowkey;
    rowkey = NULL;
    crypto_sha256 (tok->rec.mackey_pub.data, tok->rec.mackey_pub.len, tok->rowkey_for);
    tok->objects_loaded = true; /* a new token has no objects */
    LOG_INFO ("initialized token '%s' (serial %s)", tok->rec.label, tok->rec.serial);
    /* (a re-initialized token's counter moves on from the old token's) */
    if (anchor_settle_inlock (tok, secret, prev_index == 0) != CKR_OK)
        LOG_WARN ("token '%s': its TPM counter is not set up yet: done at the first login",
                  tok->rec.label);
out:
    sodium_memzero (salt, sizeof salt);
    store_token_clear (&rec);
    secbuf_free (secret);
    secbuf_free (rowkey);
    return rv;
}

typedef struct seal_change {
    bool so;
    store_blob pub, priv;
} seal_change;

static void
put_seal (store_token *rec, const void *arg)
{
    const seal_change *c = arg;
    *(c->so ? &rec->so_pub : &rec->user_pub) = c->pub;
    *(c->so ? &rec->so_priv : &rec->user_priv) = c->priv;
}

/* Seals the token secret under pin for a role and saves that seal; bump: a
 * PIN change (never to be undone: the counter follows). */
static CK_RV
put_seal_inlock (tt_token *tok, bool so, const secbuf *secret, const CK_UTF8CHAR *pin,
                 CK_ULONG pin_len, bool bump)
{
    store_token rec = tok->rec;
    seal_change c = { so, { 0 }, { 0 } };
    CK_RV rv = seal_under_pin (&tok->rec, so, secret, pin, pin_len, &c.pub, &c.priv);

    if (rv == CKR_OK) {
        put_seal (&rec, &c);
        rv = anchor_save_inlock (tok, secret, &rec, bump, put_seal, &c);
    }
    if (rv == CKR_OK) {
        store_blob *p = so ? &tok->rec.so_pub : &tok->rec.user_pub;
        store_blob *s = so ? &tok->rec.so_priv : &tok->rec.user_priv;
        store_blob_clear (p);
        store_blob_clear (s);
        *p = c.pub;
        *s = c.priv;
        if (bump)
            anchor_advance (tok);
    } else {
        store_blob_clear (&c.pub);
        store_blob_clear (&c.priv);
    }
    return rv;
}

CK_RV
token_init_pin_inlock (tt_token *tok, tt_session *sess, const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    CK_RV rv;

    if (tok->login != CKU_SO || tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    rv = pin_check_len (pin_len);
    if (rv == CKR_OK)
        rv = put_seal_inlock (tok, false, tok->secret, pin, pin_len, true);
    return rv;
}

CK_RV
token_set_pin_inlock (tt_token *tok, tt_session *sess, const CK_UTF8CHAR *old, CK_ULONG old_len,
                      const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    bool so = tok->login == CKU_SO, untagged;
    secbuf *secret = NULL;
    CK_RV rv;

    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!so && tok->rec.user_pub.data == NULL)
        return CKR_USER_PIN_NOT_INITIALIZED;
    rv = pin_check_len (pin_len);
    if (rv == CKR_OK)
        rv = token_current_inlock (tok);
    if (rv == CKR_OK)
        rv = unseal_with_pin (&tok->rec, so, old, old_len, &secret, &untagged);
    if (rv == CKR_TOKEN_NOT_RECOGNIZED) /* not C_SetPIN's to say */
        rv = CKR_DEVICE_ERROR;
    if (rv == CKR_OK)
        rv = put_seal_inlock (tok, so, secret, pin, pin_len, true);
    secbuf_free (secret);
    return rv;
}

CK_RV
token_login_inlock (tt_token *tok, tt_session *sess, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
                    CK_ULONG pin_len)
{
    secbuf *secret = NULL;
    bool untagged;
    CK_RV rv;

    (void) sess;
    if (user == CKU_CONTEXT_SPECIFIC)
        return tok->login == CKU_USER ? CKR_OPERATION_NOT_INITIALIZED : CKR_USER_NOT_LOGGED_IN;
    if (user != CKU_SO && user != CKU_USER)
        return CKR_USER_TYPE_INVALID;
    if (tok->login == user)
        return CKR_USER_ALREADY_LOGGED_IN;
    if (tok->login != TT_NOT_LOGGED_IN)
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (user == CKU_SO && tok->sessions != tok->rw_sessions)
        return CKR_SESSION_READ_ONLY_EXISTS;
    /* the row as the store has it now: another process may have set a PIN
     * (and moved the counter) since this one read it */
    rv = token_current_inlock (tok);
    if (rv != CKR_OK)
        return rv;
    if (user == CKU_USER && tok->rec.user_pub.data == NULL)
        return CKR_USER_PIN_NOT_INITIALIZED;
    if (pin_len < TT_MIN_PIN || pin_len > TT_MAX_PIN) {
        /* It cannot be the PIN: refused without a TPM attempt (no lockout count). */
        LOG_WARN ("token '%s': a PIN has %d to %d bytes, this one %lu", tok->rec.label, TT_MIN_PIN,
                  TT_MAX_PIN, (unsigned long) pin_len);
        return CKR_PIN_INCORRECT;
    }
    for (int tries = 0;; tries++) {
        if (tries > 0 && (rv = token_current_inlock (tok)) != CKR_OK)
            return rv; /* read again: another process changed it meanwhile */
        rv = unseal_with_pin (&tok->rec, user == CKU_SO, pin, pin_len, &secret, &untagged);
        if (rv == CKR_TOKEN_NOT_RECOGNIZED) /* not C_Login's to say (PKCS#11 2.40 5.6) */
            rv = CKR_DEVICE_ERROR;
        if (rv != CKR_OK)
            return rv;
        rv = anchor_check_inlock (tok, secret); /* the row authentic, the store not rolled back */
        if (rv == CKR_OK)
            break;
        secbuf_free (secret);
        secret = NULL;
        if (rv != ANCHOR_STALE || tries == 2)
            return rv == ANCHOR_STALE ? CKR_FUNCTION_FAILED : rv;
    }
    tok->secret = secret;
    tok->login = user;
    /* a seal of an earlier version gets its role's tag now (the PIN is here) */
    if (untagged && !store_write_protected ()) {
        if (put_seal_inlock (tok, user == CKU_SO, secret, pin, pin_len, false) == CKR_OK)
            LOG_INFO ("token '%s': its %s seal now carries its role", tok->rec.label,
                      user == CKU_SO ? "SO" : "user");
        else
            LOG_WARN ("token '%s': its %s seal could not be renewed with its role now; retried "
                      "at the next login", tok->rec.label, user == CKU_SO ? "SO" : "user");
    }
    /* A v1 token gets its row key and MACs now (the first time the token secret
     * is here); then private rows loaded before the login are checked. A
     * failure here leaves the token as it was: logged in, rows as they were. */
    if (rowmac_upgrade_inlock (tok) != CKR_OK)
        LOG_WARN ("token '%s': its rows could not be upgraded to authenticated ones now; "
                  "retried at the next login", tok->rec.label);
    if (tok->objects_loaded)
        object_relogin_sync_inlock (tok);
    return CKR_OK;
}

void
token_logout_inlock (tt_token *tok)
{
    secbuf_free (tok->secret);
    tok->secret = NULL;
    tok->login = TT_NOT_LOGGED_IN;
    object_logout_inlock (tok);
}

void
token_forget_inlock (tt_token *tok)
{
    token_logout_inlock (tok);
    object_drop_all_inlock (tok);
    secbuf_free (tok->rowkey);
    tok->rowkey = NULL;
}

CK_RV
token_logout_checked_inlock (tt_token *tok)
{
    if (tok->login == TT_NOT_LOGGED_IN)
        return CKR_USER_NOT_LOGGED_IN;
    token_logout_inlock (tok);
    return CKR_OK;
}

CK_RV
token_delete_inlock (tt_token *tok)
{
    store *st;
    CK_RV rv;

    if (tok->rec.id == 0)
        return CKR_TOKEN_NOT_RECOGNIZED;
    rv = core_store (&st);
    if (rv == CKR_OK)
        rv = store_token_del (st, tok->rec.id);
    if (rv == CKR_OK && tok->rec.nv_index != 0
        && tpm_counter_undefine (core_tpm (), tok->rec.nv_index) != CKR_OK)
        LOG_WARN ("token '%s': its TPM counter (NV index 0x%08x) could not be removed: "
                  "'tpm2_nvundefine 0x%08x' removes it",
                  tok->rec.label, tok->rec.nv_index, tok->rec.nv_index);
    if (rv == CKR_OK) {
        if (tok->close_sessions != NULL)
            tok->close_sessions (tok);
        object_drop_all_inlock (tok);
        tok->removed = true;
    }
    return rv;
}
