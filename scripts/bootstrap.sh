#!/usr/bin/env bash
# Set up everything panel needs on a fresh Debian/Ubuntu machine:
# the Debian packages Kivy needs headless (Xvfb, Mesa) and zbar for the
# tests, then a virtual environment in .venv with the package installed.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v Xvfb >/dev/null 2>&1 || need_debs+=(xvfb)
for lib in libgl1-mesa-dri libegl1 libzbar0; do
    dpkg -s "$lib" >/dev/null 2>&1 || need_debs+=("$lib")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need_debs+=(python3-venv)
if [ ${#need_debs[@]} -gt 0 ]; then
    echo "panel: installing Debian packages: ${need_debs[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "panel: creating the virtual environment in .venv"
    python3 -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "panel: installing Python packages (first time takes a minute)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    touch "$stamp"
fi
