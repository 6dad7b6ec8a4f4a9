#!/usr/bin/env bash
# Install the external services the scgw test suite runs against:
#   - mosquitto clients               from Debian 12
#   - PostgreSQL 15 (+ server dev)    from Debian 12
#   - TimescaleDB (Apache-2 part)     built from Debian 13's source package
#   - Mosquitto broker >= 2.0.13      built from Debian 13's source package
#   - chromium (headless)             from Debian 12, for the browser tests (/docs, the dashboard)
#   - fonts-wqy-microhei              a CJK font, so the dashboard's Chinese renders in chromium
#
# Debian 12 ships no TimescaleDB package, and its Mosquitto (2.0.11) stops
# enforcing a subscriber's in-flight window once acknowledgements arrive in
# order (fixed in 2.0.13, "various fixes around inflight quota management");
# the tests check that window. The only package archives this project may reach
# are Debian's, PyPI and npm. Debian 13 ("trixie") carries both *source*
# packages, so we fetch them with apt through a private apt configuration (own
# sources list, own lists dir, no package cache) that leaves the system's apt
# sources and state untouched, and build them here. The downloads are verified
# by apt: the Sources index comes from trixie's InRelease, checked against
# debian-archive-keyring, and the tarballs are checked against the hashes in
# that index. Only the broker binary is installed (${MOSQUITTO_BIN}); the
# clients (mosquitto_pub, mosquitto_sub) stay Debian 12's.
#
# Idempotent and quiet: one progress line per step; a run on a machine that
# already has everything is a fast no-op (no apt, no network). Output of the
# noisy commands goes to a log file whose tail is printed on failure.
#
# Environment overrides:
#   SCGW_DEBIAN_MIRROR   Debian mirror base URL (default: the one the system's
#                        apt sources use, else http://deb.debian.org/debian)
#   SCGW_PG_MAJOR        PostgreSQL major version (default 15)
#   SCGW_MOSQUITTO       where the broker is installed (default
#                        /usr/local/sbin/mosquitto; the tests read the same
#                        variable)
set -euo pipefail

PG_MAJOR="${SCGW_PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
MOSQUITTO_BIN="${SCGW_MOSQUITTO:-/usr/local/sbin/mosquitto}"
MOSQUITTO_MIN_VERSION=2.0.13
APT_PACKAGES=(
    mosquitto-clients
    "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}"
    cmake python3-venv build-essential dpkg-dev libssl-dev
    chromium fonts-wqy-microhei
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
WORK=""          # scratch directory for downloads and builds, made on first use
APT_OPTS=()      # the private apt configuration for trixie's sources, once set up
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
# 2. Debian 13 source packages, fetched through a private apt configuration
# ---------------------------------------------------------------------------
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

work_dir() {
    if [[ -z "${WORK}" ]]; then
        WORK="$(mktemp -d /tmp/scgw-test-services.XXXXXX)"
        # apt drops to the _apt user for downloads: it must be able to enter here.
        chmod 0755 "${WORK}"
    fi
}

# Set up APT_OPTS (once per run): trixie's deb-src index in a private lists dir.
trixie_sources() {
    ((${#APT_OPTS[@]} > 0)) && return
    local mirror ulog urc=0
    work_dir
    mirror="$(debian_mirror)"
    mkdir -p "${WORK}/apt/lists/partial"
    chown -R _apt:root "${WORK}/apt/lists" 2>/dev/null || true
    printf 'deb-src [signed-by=%s] %s trixie main\n' "${KEYRING}" "${mirror}" >"${WORK}/apt/sources.list"
    APT_OPTS=(
        -q
        -o "Dir::Etc::sourcelist=${WORK}/apt/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=${WORK}/apt/lists"
        -o "Dir::Cache::pkgcache="
        -o "Dir::Cache::srcpkgcache="
        -o "APT::Get::List-Cleanup=0"
    )

    step "debian 13: fetching the source package index from ${mirror}"
    ulog="${WORK}/apt/update.log"
    apt-get "${APT_OPTS[@]}" update >"${ulog}" 2>&1 || urc=$?
    cat "${ulog}" >>"${LOG}"
    if ((urc != 0)) || grep -qE '^(W|E): .*(NO_PUBKEY|EXPKEYSIG|not signed|signature)' "${ulog}"; then
        # An older debian-archive-keyring may lack the trixie keys: upgrade it.
        step "debian 13: upgrading debian-archive-keyring for the trixie key"
        quiet "${SUDO[@]}" apt-get update -q
        quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q debian-archive-keyring
        quiet apt-get "${APT_OPTS[@]}" update
    fi
}

# fetch_trixie_source PACKAGE: download trixie's source package PACKAGE and
# unpack it (with Debian's patches) into ${WORK}/PACKAGE/src. dpkg-source checks
# the tarballs against the .dsc, whose hashes apt checked against the index.
fetch_trixie_source() {
    local package="$1" dir
    trixie_sources
    dir="${WORK}/${package}"
    mkdir -p "${dir}/dl"
    chown _apt:root "${dir}/dl" 2>/dev/null || true
    step "${package}: downloading Debian 13's source package"
    (cd "${dir}/dl" && quiet apt-get "${APT_OPTS[@]}" source --download-only "${package}")
    (cd "${dir}" && quiet dpkg-source -x dl/"${package}"_*.dsc src)
}

# ---------------------------------------------------------------------------
# 3. TimescaleDB, built from Debian 13's source package
# ---------------------------------------------------------------------------
[[ -x "${PG_CONFIG}" ]] || die "${PG_CONFIG} not found after package install"
PG_SHAREDIR="$("${PG_CONFIG}" --sharedir)"
PG_PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)"
TSDB_CONTROL="${PG_SHAREDIR}/extension/timescaledb.control"

timescaledb_installed() {
    [[ -f "${TSDB_CONTROL}" ]] && compgen -G "${PG_PKGLIBDIR}/timescaledb*.so" >/dev/null
}

build_timescaledb() {
    local src
    # One of Debian's patches stops CMake from installing a git hook.
    fetch_trixie_source timescaledb
    src="${WORK}/timescaledb/src"

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
}

if timescaledb_installed; then
    step "timescaledb: already installed"
else
    build_timescaledb
fi

# ---------------------------------------------------------------------------
# 4. Mosquitto broker >= 2.0.13, built from Debian 13's source package
# ---------------------------------------------------------------------------
# `mosquitto -h` prints its usage (first line "mosquitto version X") and exits 3.
mosquitto_version() {
    { "$1" -h 2>&1 || true; } | sed -n 's/^mosquitto version //p' | head -n 1
}

mosquitto_installed() {
    local version
    [[ -x "${MOSQUITTO_BIN}" ]] || return 1
    version="$(mosquitto_version "${MOSQUITTO_BIN}")"
    [[ -n "${version}" ]] && dpkg --compare-versions "${version}" ge "${MOSQUITTO_MIN_VERSION}"
}

build_mosquitto() {
    local src
    fetch_trixie_source mosquitto
    src="${WORK}/mosquitto/src"

    step "mosquitto: building the $(sed -n 's/^Version: //p' "${WORK}"/mosquitto/dl/mosquitto_*.dsc) broker (no docs, clients, plugins or websockets)"
    local t0=${SECONDS}
    (
        cd "${src}"
        # Debian's compiler and hardening flags, as its own package build uses.
        eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
        quiet cmake -S . -B build \
            -DCMAKE_BUILD_TYPE=None \
            -DWITH_BUNDLED_DEPS=ON \
            -DDOCUMENTATION=OFF \
            -DWITH_CLIENTS=OFF \
            -DWITH_APPS=OFF \
            -DWITH_PLUGINS=OFF \
            -DWITH_LIB_CPP=OFF \
            -DWITH_CJSON=OFF \
            -DWITH_WEBSOCKETS=OFF \
            -DWITH_SYSTEMD=OFF \
            -DWITH_DLT=OFF \
            -DWITH_SRV=OFF
        quiet make -C build -j"$(nproc)" mosquitto
        quiet "${SUDO[@]}" install -D -s -m 0755 build/src/mosquitto "${MOSQUITTO_BIN}"
    )
    step "mosquitto: $(mosquitto_version "${MOSQUITTO_BIN}") built and installed as ${MOSQUITTO_BIN} in $((SECONDS - t0)) s"
}

if mosquitto_installed; then
    step "mosquitto: $(mosquitto_version "${MOSQUITTO_BIN}") already installed (${MOSQUITTO_BIN})"
else
    build_mosquitto
fi

# ---------------------------------------------------------------------------
# 5. Verify
# ---------------------------------------------------------------------------
step "verifying"
MOSQ_VERSION="$(mosquitto_version "${MOSQUITTO_BIN}")"
[[ -n "${MOSQ_VERSION}" ]] || die "${MOSQUITTO_BIN} -h did not report a version"
dpkg --compare-versions "${MOSQ_VERSION}" ge "${MOSQUITTO_MIN_VERSION}" \
    || die "${MOSQUITTO_BIN} is mosquitto ${MOSQ_VERSION}; the tests need ${MOSQUITTO_MIN_VERSION} or later"
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
