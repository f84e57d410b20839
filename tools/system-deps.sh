#!/bin/sh
# Installs the Debian packages the demo and the tests need, only those missing.
set -eu
missing=""
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing python3-venv"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"  # renders the audit report in tests
# The units' seccomp rules, tried without systemd as PID 1 (tools/unit_seccomp.py):
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
/usr/bin/python3 -c 'import seccomp' >/dev/null 2>&1 || missing="$missing python3-seccomp"
command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
# A throw-away PostgreSQL server per test session (tools/postgres_cluster.py); its system
# service is never started by the tests.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
    echo "installing Debian packages:$missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
fi
