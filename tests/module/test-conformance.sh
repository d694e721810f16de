#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# test-conformance.sh - runs tests/module/test-conformance (the table of PKCS#11
# rules, docs/conformance.md) like test-module: against the private swtpm of
# tests/with-swtpm.sh, then checks that no TPM resource was left behind.
#
# Run as: tests/with-swtpm.sh tests/module/test-conformance.sh

exec bash "$(dirname "$0")/test-module.sh" test-conformance
