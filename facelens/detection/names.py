"""The detection designs by name, importable without loading any network (the CLI's options)."""

DETECTORS = ("yunet", "blazeface")
# YuNet finds faces from ~10 px to the whole frame and full profiles; BlazeFace is the fast
# option for one large frontal face (README, Detection).
DEFAULT_DETECTOR = "yunet"
