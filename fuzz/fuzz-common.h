/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared by the libFuzzer targets (fuzz/fuzz-*.c, docs/fuzzing.md): reading
 * typed values from the fuzzer's bytes, an arena for the buffers handed to the
 * module (each malloc'd at its exact size, so ASan sees any overread), and the
 * module set up with no TPM (a TCTI that fails at once) and an in-memory store.
 */
#ifndef TT_FUZZ_COMMON_H
#define TT_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"

/* The fuzzer's bytes, read front to back; past the end every read gives zeros. */
typedef struct fz {
    const uint8_t *p;
    size_t n;
    void **arena; /* buffers to free after the input */
    size_t n_arena;
} fz;

void fz_init (fz *f, const uint8_t *data, size_t len);
/* Frees every buffer of the arena. */
void fz_done (fz *f);
uint8_t fz_u8 (fz *f);
uint32_t fz_u32 (fz *f);
CK_ULONG fz_ulong (fz *f);
bool fz_bool (fz *f);
/* A length: under 255, or (after a 0xff) up to max. */
size_t fz_len (fz *f, size_t max);
/* One of n choices. */
size_t fz_pick (fz *f, size_t n);
/* len bytes from the input (zero-padded past its end) in a buffer of exactly
 * len bytes owned by the arena; never NULL. */
uint8_t *fz_bytes (fz *f, size_t len);
/* A zeroed arena buffer of len bytes; never NULL. */
void *fz_alloc (fz *f, size_t len);

/* Attribute types worth trying: every one the schema knows, vendor ones, and
 * some it does not. */
extern const CK_ATTRIBUTE_TYPE fuzz_attr_types[];
extern const size_t fuzz_n_attr_types;
/* Mechanisms: every one of the table, vendor ones, and unknown ones. */
extern const CK_MECHANISM_TYPE fuzz_mechs[];
extern const size_t fuzz_n_mechs;

/* A template of up to max attributes: types from fuzz_attr_types (or any), values
 * typed by their kind (bool, ulong, bytes) most of the time, raw otherwise. */
CK_ATTRIBUTE *fz_template (fz *f, size_t max, CK_ULONG *count);
/* A mechanism with a parameter that fits it most of the time: structs whose
 * pointers point at arena buffers of the lengths they claim. */
CK_MECHANISM *fz_mechanism (fz *f);

/* Environment for an in-process module: no TPM (TPMTRUST_TCTI at a closed port
 * on the loopback, so TPM calls fail at once with CKR_DEVICE_ERROR), an in-memory
 * store, logging at trace level into /dev/null (every log line is formatted). */
void fuzz_env (void);
/* The module's 3.0 function table (linked in, as the module exports it). */
CK_FUNCTION_LIST_3_0 *fuzz_module (void);
/* After C_Initialize: an initialized token in the store (label, serial, blobs
 * that are no TPM objects); its slot id. */
CK_SLOT_ID fuzz_add_token (void);
/* Logs the slot's token in as the user without the TPM: the token secret is
 * fuzz_secret(). */
void fuzz_fake_login (CK_SLOT_ID slot);
/* The token secret of fuzz_fake_login (32 bytes). */
const uint8_t *fuzz_secret (void);
/* Aborts when a secbuf was not freed (after C_Finalize). */
void fuzz_check_secbufs (void);

#endif
