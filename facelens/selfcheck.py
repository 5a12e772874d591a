"""`python -m facelens.selfcheck`: the shipped weights are intact and every network loads."""

from __future__ import annotations

import hashlib
import json
import sys

from facelens.models.onnx_model import WEIGHTS_DIR, OnnxModel


def main() -> int:
    entries = json.loads((WEIGHTS_DIR / "PROVENANCE.json").read_text())
    failures = 0
    for name, entry in entries.items():
        digest = hashlib.sha256((WEIGHTS_DIR / name).read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            print(f"FAIL {name}: sha256 {digest} differs from PROVENANCE.json")
            failures += 1
            continue
        if name.endswith(".onnx"):
            OnnxModel(name)
        print(f"ok   {name}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
