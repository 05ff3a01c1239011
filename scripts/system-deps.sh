#!/usr/bin/env bash
# The test suite's system services: Dovecot (IMAP) and PostgreSQL, from Debian's packages.
# Installs only what is missing; the tests start their own throwaway servers on 127.0.0.1.
set -euo pipefail

missing=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "== installing ${missing[*]} (Debian packages)"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "error: ${missing[*]} missing and not root: install them with apt-get" >&2
    exit 1
fi
# The packages' own services would take the default ports; the tests use their own servers.
printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
"${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
