#!/usr/bin/env bash
# Create the project's virtualenv and install the package with its dev tools.
# On a fresh Debian 12, `python3 -m venv` needs the python3-venv package: install it when
# missing (root only; otherwise say what to run).
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: $python is missing or older than 3.11" >&2
  exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "==> installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: python3-venv is missing: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
echo "==> creating $venv and installing smart-community-gateway[dev]"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -e '.[dev]'
echo "==> $venv ready: $("$venv/bin/scgw" --help | head -n 1)"
