"""The shipped weights: each file has a provenance entry, and its bytes are the recorded ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import facelens

WEIGHTS = Path(facelens.__file__).parent / "weights"
FIELDS = {"source_package", "source_version", "original_file", "license", "sha256", "conversion"}


def test_every_weight_file_has_matching_provenance() -> None:
    entries = json.loads((WEIGHTS / "PROVENANCE.json").read_text())
    files = {p.name for p in WEIGHTS.glob("*.onnx")}
    assert files and files == set(entries), "weights and PROVENANCE.json list different files"
    for name, entry in entries.items():
        assert FIELDS <= set(entry) and all(entry[f] for f in FIELDS), name
        digest = hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} differs from its recorded sha256"
    rendered = (WEIGHTS / "PROVENANCE.md").read_text()
    assert all(entry["sha256"] in rendered for entry in entries.values())
