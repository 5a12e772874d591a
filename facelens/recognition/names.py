"""The embedders by name, importable without loading any network (the CLI's options)."""

EMBEDDER_NAMES = ("dlib", "sface", "fused")
DEFAULT_EMBEDDER = "fused"
