#!/usr/bin/env bash
# Tests scripts/setup-backend.sh without touching the machine: fake pkg-config and apt-get on PATH
# stand for a machine without OpenBLAS, with and without the right to install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "setup-backend-test: FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/bin"
# pkg-config finds OpenBLAS only once the fake apt-get has "installed" it.
cat > "$tmp/bin/pkg-config" <<FAKE
#!/bin/sh
[ -f "$tmp/installed" ]
FAKE
cat > "$tmp/bin/apt-get" <<FAKE
#!/bin/sh
echo "\$*" >> "$tmp/apt.log"
case "\$*" in *install*) touch "$tmp/installed" ;; esac
FAKE
chmod +x "$tmp/bin/pkg-config" "$tmp/bin/apt-get"

# 1. Installs are off: the message names the command and the estimate, nothing is installed, exit 0.
out=$(PATH="$tmp/bin:$PATH" SGDSTAB_AUTO_INSTALL=0 "$here/setup-backend.sh" quick 2>&1) || fail "exit status $? with installs off"
grep -q "apt-get install libopenblas-dev liblapacke-dev pkg-config" <<<"$out" || fail "no install command in: $out"
grep -q "make quick' will take an estimated" <<<"$out" || fail "no time estimate in: $out"
[ ! -e "$tmp/apt.log" ] || fail "apt-get ran although installs are off"

# 2. Installs allowed (run as root): apt-get installs the three packages.
if [ "$(id -u)" -eq 0 ]; then # (with sudo, sudo's secure_path would reach the real apt-get)
	out=$(PATH="$tmp/bin:$PATH" "$here/setup-backend.sh" reproduce 2>&1) || fail "exit status $? when installing"
	grep -q "installing libopenblas-dev liblapacke-dev pkg-config" <<<"$out" || fail "no install announcement in: $out"
	grep -q "this run uses OpenBLAS" <<<"$out" || fail "no success message in: $out"
	grep -q "install -y -qq --no-install-recommends libopenblas-dev liblapacke-dev pkg-config" "$tmp/apt.log" || fail "apt-get calls: $(cat "$tmp/apt.log")"
	# 3. Present: silent.
	out=$(PATH="$tmp/bin:$PATH" "$here/setup-backend.sh" reproduce 2>&1)
	[ -z "$out" ] || fail "backend present, but the script said: $out"
fi
echo "setup-backend-test: ok"
