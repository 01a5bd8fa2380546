#!/usr/bin/env bash
# Installs what the tests and the conformance run need on a fresh Debian machine.
# Idempotent: skips what is already there. Run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

need_apt=()
command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || need_apt+=(clamav-daemon)
command -v clamdscan >/dev/null 2>&1 || need_apt+=(clamdscan)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
# clam.exe in ~45 container forms: the content differential (crates/clamd-oracle/tests/testfiles_differential.rs)
[ -f /usr/share/clamav-testfiles/clam.exe ] || need_apt+=(clamav-testfiles)
# headless browser for the HTML report test (crates/harness/tests/report_html_browser.rs)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# arj builds the ARJ method 1 and 4 inputs of the content differential (issue 15)
command -v arj >/dev/null 2>&1 || need_apt+=(arj)
# the Perl clamd client ClamAV::Client (perl-clamav-client profile, run by `cargo xtask test`)
perl -MClamAV::Client -e 1 >/dev/null 2>&1 || need_apt+=(libclamav-client-perl)
# c-icap's virus_scan service with clamd_mod (c-icap profile, run by `cargo xtask test`);
# Debian's c-icap does not start its daemon by itself (START=no in /etc/default/c-icap)
command -v c-icap-client >/dev/null 2>&1 && [ -f /usr/share/c_icap/templates/virus_scan/en/VIRUS_FOUND ] \
  || need_apt+=(c-icap libc-icap-mod-virus-scan)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The Debian package may start its own clamd/freshclam services; this project never needs
# them (there is no signature download here) and starts its own clamd on loopback.

# apt_no_start WHAT PACKAGE...: installs packages that ship a daemon without starting it: a
# policy-rc.d that denies every start (exit 101, Debian's switch for invoke-rc.d and
# deb-systemd-invoke) is in place while they install, unless the machine has one already.
# --no-remove: apt gives up rather than replace another package (an MTA: postfix, ...),
# and the profile that needs them is then N/A.
apt_no_start() {
  what=$1; shift
  echo "setup: installing $* (apt; $what)"
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=1
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
  fi
  [ -n "${apt_updated:-}" ] || $SUDO apt-get update -qq
  apt_updated=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --no-remove \
    "$@" >/dev/null \
    || echo "setup: $* not installed (apt refused; another MTA?): its profile is N/A"
  if [ -n "$own_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
}
[ ${#need_apt[@]} -eq 0 ] || apt_updated=1

# Exim 4.96's clamd scanner (exim profile, run by `cargo xtask test`). The package is an MTA.
if ! command -v exim >/dev/null 2>&1 && [ ! -x /usr/sbin/exim ]; then
  apt_no_start "its daemon is not started" exim4-daemon-heavy
fi
# ClamAV's clamav-milter and opendkim's miltertest, which plays the MTA for it
# (clamav-milter profile, run by `cargo xtask test`); the milter's service is not started.
if [ ! -x /usr/sbin/clamav-milter ] || ! command -v miltertest >/dev/null 2>&1; then
  apt_no_start "the milter's service is not started" clamav-milter miltertest
fi

# Python client used by the python-clamd conformance profile.
if ! python3 -c 'import clamd' >/dev/null 2>&1; then
  echo "setup: installing the python 'clamd' package (pip)"
  python3 -m pip install --quiet --disable-pip-version-check clamd \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages clamd
fi

# Third-party clamd client libraries with conformance profiles (conformance/clients/
# pyclamd.toml, aioclamd.toml, clamav-client.toml; wrappers in conformance/clients/wrappers/).
for mod_pkg in pyclamd:pyclamd aioclamd:aioclamd clamav_client:clamav-client; do
  mod=${mod_pkg%%:*}; pkg=${mod_pkg#*:}
  if ! python3 -c "import $mod" >/dev/null 2>&1; then
    echo "setup: installing the python '$pkg' package (pip)"
    python3 -m pip install --quiet --disable-pip-version-check "$pkg" \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$pkg"
  fi
done

rustup component add rustfmt clippy >/dev/null 2>&1 || true
echo "setup: ok (clamd: $(/usr/sbin/clamd --version 2>/dev/null || echo missing))"
