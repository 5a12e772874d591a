#!/usr/bin/env bash
# Installs whatever facelens is missing on this machine, and nothing else: Debian packages
# (chromium for the browser tests: Playwright drives it, no browser is downloaded), torch
# (CPU), facelens's Python requirements and its test tools, and dlib's reference models used
# by the tests. Run by `make run` and `make test`; about a second when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(libgl1 libglib2.0-0 chromium)

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ] \
  && ! dpkg -s "${DEBIAN_PACKAGES[@]}" >/dev/null 2>&1; then
  echo "setup: installing Debian packages ${DEBIAN_PACKAGES[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${DEBIAN_PACKAGES[@]}" >/dev/null
fi

"$PYTHON" -m pip --version >/dev/null
if ! "$PYTHON" -c "import packaging" 2>/dev/null; then
  "$PYTHON" -m pip install -q packaging
fi
mapfile -t LACKING < <("$PYTHON" scripts/missing_packages.py)
if [ "${#LACKING[@]}" -gt 0 ] && [ -n "${LACKING[0]}" ]; then
  echo "setup: installing ${LACKING[*]}"
  # The pinned CPU build first: any other torch requirement would pull several GB of CUDA.
  "$PYTHON" -m pip install -q "torch==2.13.0"
  "$PYTHON" -m pip install -q "${LACKING[@]}"
fi

# The `facelens` command must run this checkout (a fresh clone elsewhere re-points it).
INSTALLED=$(cd / && "$PYTHON" -c "import facelens, pathlib; print(pathlib.Path(facelens.__file__).parent.parent)" 2>/dev/null || true)
if [ "$INSTALLED" != "$PWD" ]; then
  echo "setup: installing facelens from $PWD (editable)"
  "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e .
fi
"$PYTHON" -m facelens.selfcheck >/dev/null || "$PYTHON" -m facelens.selfcheck
