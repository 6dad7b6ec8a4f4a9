#!/usr/bin/env bash
# Install the external services the scgw test suite runs against:
#   - mosquitto (+ clients)           from Debian 12
#   - PostgreSQL 15 (+ server dev)    from Debian 12
#   - TimescaleDB (Apache-2 part)     built from Debian 13's source package
#   - chromium (headless)             from Debian 12, for the /docs browser test
#
# Debian 12 ships no TimescaleDB package, and the only package archives this
# project may reach are Debian's, PyPI and npm. Debian 13 ("trixie") carries the
# `timescaledb` *source* package, so we fetch it with apt through a private apt
# configuration (own sources list, own lists dir, no package cache) that leaves
# the system's apt sources and state untouched, and build it against PG 15.
# The download is verified by apt: the Sources index comes from trixie's
# InRelease, checked against debian-archive-keyring, and the tarballs are
# checked against the hashes in that index.
#
# Idempotent and quiet: one progress line per step; a run on a machine that
# already has everything is a fast no-op (no apt, no network). Output of the
# noisy commands goes to a log file whose tail is printed on failure.
#
# Environment overrides:
#   SCGW_DEBIAN_MIRROR   Debian mirror base URL (default: the one the system's
#                        apt sources use, else http://deb.debian.org/debian)
#   SCGW_PG_MAJOR        PostgreSQL major version (default 15)
set -euo pipefail

PG_MAJOR="${SCGW_PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
APT_PACKAGES=(
    mosquitto mosquitto-clients
    "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}"
    cmake python3-venv build-essential dpkg-dev
    chromium
)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

step() { printf '==> %s\n' "$*"; }
die() { printf 'install-test-services: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "$(id -u)" -ne 0 ]]; then
    SUDO=(sudo)
else
    SUDO=()
fi

LOG="$(mktemp /tmp/install-test-services.XXXXXX.log)"
WORK=""
cleanup() {
    if [[ -n "${WORK}" && -d "${WORK}" ]]; then
        rm -rf "${WORK}"
    fi
}
trap cleanup EXIT

# Run a noisy command with its output in $LOG; on failure show the log tail.
quiet() {
    if ! "$@" >>"${LOG}" 2>&1; then
        printf 'install-test-services: command failed: %s\n' "$*" >&2
        printf -- '---- last lines of %s ----\n' "${LOG}" >&2
        tail -n 40 "${LOG}" >&2
        exit 1
    fi
}

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
missing_packages() {
    local pkg status
    for pkg in "${APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)"
        if [[ "${status}" != "installed" ]]; then
            printf '%s\n' "${pkg}"
        fi
    done
}

mapfile -t MISSING < <(missing_packages)
if ((${#MISSING[@]} > 0)); then
    step "apt: installing ${MISSING[*]}"
    quiet "${SUDO[@]}" apt-get update -q
    quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
else
    step "apt: all packages already installed"
fi

# ---------------------------------------------------------------------------
# 2. TimescaleDB, built from Debian 13's source package
# ---------------------------------------------------------------------------
[[ -x "${PG_CONFIG}" ]] || die "${PG_CONFIG} not found after package install"
PG_SHAREDIR="$("${PG_CONFIG}" --sharedir)"
PG_PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)"
TSDB_CONTROL="${PG_SHAREDIR}/extension/timescaledb.control"

timescaledb_installed() {
    [[ -f "${TSDB_CONTROL}" ]] && compgen -G "${PG_PKGLIBDIR}/timescaledb*.so" >/dev/null
}

# The mirror the system already uses for Debian (keeps proxies/mirrors working).
debian_mirror() {
    if [[ -n "${SCGW_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "${SCGW_DEBIAN_MIRROR%/}"
        return
    fi
    local uri
    # deb822 files: "URIs: http://host/debian" ; one-line files: "deb [opts] http://host/debian suite ..."
    uri="$(
        {
            cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
            cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                | sed -n 's/^deb\(-src\)\?[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\3/p'
        } | grep -E '^(https?|mirror\+https?)://[^ ]*/debian/?$' | head -n 1 || true
    )"
    printf '%s\n' "${uri:-http://deb.debian.org/debian}" | sed 's#/$##'
}

build_timescaledb() {
    local mirror apt_opts src
    mirror="$(debian_mirror)"
    WORK="$(mktemp -d /tmp/scgw-timescaledb.XXXXXX)"
    # apt drops to the _apt user for downloads: it must be able to write here.
    chmod 0755 "${WORK}"
    mkdir -p "${WORK}/lists/partial" "${WORK}/dl"
    chown -R _apt:root "${WORK}/lists" "${WORK}/dl" 2>/dev/null || true

    printf 'deb-src [signed-by=%s] %s trixie main\n' "${KEYRING}" "${mirror}" >"${WORK}/sources.list"
    apt_opts=(
        -q
        -o "Dir::Etc::sourcelist=${WORK}/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=${WORK}/lists"
        -o "Dir::Cache::pkgcache="
        -o "Dir::Cache::srcpkgcache="
        -o "APT::Get::List-Cleanup=0"
    )

    step "timescaledb: fetching Debian 13 source package index from ${mirror}"
    local ulog="${WORK}/update.log" urc=0
    apt-get "${apt_opts[@]}" update >"${ulog}" 2>&1 || urc=$?
    cat "${ulog}" >>"${LOG}"
    if ((urc != 0)) || grep -qE '^(W|E): .*(NO_PUBKEY|EXPKEYSIG|not signed|signature)' "${ulog}"; then
        # An older debian-archive-keyring may lack the trixie keys: upgrade it.
        step "timescaledb: upgrading debian-archive-keyring for the trixie key"
        quiet "${SUDO[@]}" apt-get update -q
        quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q debian-archive-keyring
        quiet apt-get "${apt_opts[@]}" update
    fi

    step "timescaledb: downloading source"
    (cd "${WORK}/dl" && quiet apt-get "${apt_opts[@]}" source --download-only timescaledb)
    # dpkg-source checks the tarballs against the .dsc and applies Debian's
    # patches (one of them stops CMake from installing a git hook).
    (cd "${WORK}" && quiet dpkg-source -x dl/timescaledb_*.dsc src)
    src="${WORK}/src"

    step "timescaledb: building $(sed -n 's/^version = //p' "${src}/version.config") (Apache-2 only) against PostgreSQL ${PG_MAJOR}"
    local t0=${SECONDS}
    (
        cd "${src}"
        quiet ./bootstrap \
            -DCMAKE_BUILD_TYPE=Release \
            -DAPACHE_ONLY=1 \
            -DREGRESS_CHECKS=OFF \
            -DTAP_CHECKS=OFF \
            -DWARNINGS_AS_ERRORS=OFF \
            -DPG_CONFIG="${PG_CONFIG}"
        quiet make -C build -j"$(nproc)"
        quiet "${SUDO[@]}" make -C build install
    )
    step "timescaledb: built and installed in $((SECONDS - t0)) s"
    rm -rf "${WORK}"
    WORK=""
}

if timescaledb_installed; then
    step "timescaledb: already installed"
else
    build_timescaledb
fi

# ---------------------------------------------------------------------------
# 3. Verify
# ---------------------------------------------------------------------------
step "verifying"
# `mosquitto -h` prints its usage and exits 3; only the output matters.
MOSQ_VERSION="$(/usr/sbin/mosquitto -h 2>&1 | sed -n 's/^mosquitto version //p' | head -n 1 || true)"
[[ -n "${MOSQ_VERSION}" ]] || die "mosquitto -h did not report a version"
command -v mosquitto_pub >/dev/null || die "mosquitto_pub not found"
command -v mosquitto_sub >/dev/null || die "mosquitto_sub not found"
# `mosquitto_pub --help` exits 1 after printing its usage.
[[ "$(mosquitto_pub --help 2>&1 || true)" == *"mosquitto_pub is a simple mqtt client"* ]] \
    || die "mosquitto_pub --help did not print its usage"
[[ -x "${PG_BIN}/initdb" ]] || die "${PG_BIN}/initdb not found"
[[ -x "${PG_BIN}/postgres" ]] || die "${PG_BIN}/postgres not found"
PG_VERSION="$("${PG_BIN}/postgres" --version | awk '{print $3}')"
timescaledb_installed || die "timescaledb not installed (${TSDB_CONTROL})"
TSDB_VERSION="$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "${TSDB_CONTROL}")"

rm -f "${LOG}"
echo "test services ready: mosquitto ${MOSQ_VERSION}, postgresql ${PG_VERSION}, timescaledb ${TSDB_VERSION}"
