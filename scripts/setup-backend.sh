#!/usr/bin/env bash
# Makes sure the fast linear-algebra backend (OpenBLAS + LAPACKE through cgo) is there before a
# long run, or says clearly what the run will cost without it. Called by `make reproduce` and
# `make quick` before they start; never fails the run: without the backend everything still
# works on pure-Go gonum, only many times slower.
#
#   scripts/setup-backend.sh TARGET     # TARGET names the run for the time estimate: quick | reproduce
#
# On a Debian or Ubuntu machine where this user is root or has passwordless sudo, the missing
# packages are installed with apt-get (and the script says so). Set SGDSTAB_AUTO_INSTALL=0 to
# never install anything; the script then prints the one command to run and goes on.
set -u
target=${1:-reproduce}
packages=(libopenblas-dev liblapacke-dev pkg-config)

have_backend() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas lapacke 2>/dev/null; }

# Measured on the project's 2-core machine (README, "Speed"): one minimum's analysis takes
# 10-20 s with OpenBLAS and about 90 s on pure Go at paper.yaml's h = 100 (88 s at load 3, with
# the pure-Go eigensolver and products spread over both cores; 38 minima, each beside a trainer);
# quick's minima (h = 20, n = 128) are about 10 times cheaper than h = 20 at n = 512. The
# estimates below follow from those per-minimum times.
estimate() {
	case "$target" in
	quick) echo "an estimated 5-10 minutes instead of about 1.5 minutes" ;;
	*) echo "an estimated 1-2 hours instead of about 25 minutes" ;;
	esac
}

if have_backend; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		sudo=(none)
	fi
fi

if [ "${SGDSTAB_AUTO_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${sudo[0]:-}" != none ]; then
	echo "setup: the fast linear-algebra backend (OpenBLAS + LAPACKE) is missing; installing ${packages[*]} with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	if "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
		if have_backend; then
			echo "setup: installed; this run uses OpenBLAS" >&2
			exit 0
		fi
	fi
	echo "setup: the installation did not work (see apt-get's messages above); going on with pure Go" >&2
fi

cmd="apt-get install ${packages[*]}"
[ "$(id -u)" -ne 0 ] && cmd="sudo $cmd"
cat >&2 <<MSG
setup: the fast linear-algebra backend (OpenBLAS + LAPACKE) is not installed, so this run uses
setup: pure-Go gonum: 'make $target' will take $(estimate).
setup: to get the fast backend, run (Debian/Ubuntu):   $cmd
setup: then start 'make $target' again (finished runs are kept). Going on with pure Go now.
MSG
exit 0
