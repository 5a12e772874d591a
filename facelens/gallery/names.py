"""The one policy for people's names in a gallery, shared by every backend and front end.

A new name (enrolment, rename, import) is Unicode NFC with surrounding whitespace removed;
it must be non-empty, at most `MAX_NAME_LENGTH` characters and free of characters that are
invisible, reorder text or break lines (control, format, surrogate, private-use, unassigned,
line and paragraph separators). Names are unique case-insensitively: `name_key` (NFC +
casefold) is what identifies a person, the stored name keeps the case it was given.

Lookups (remove, rename's old name, search by name) never apply the policy, so names stored
by older versions stay reachable: `pick` prefers the exact stored name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from facelens.errors import ErrorCode, FaceLensError

MAX_NAME_LENGTH = 128
REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "a surrogate code point",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def code_point(ch: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: a character named without printing it."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def valid_name(raw: str) -> str:
    """The name to store for `raw`, or FaceLensError(BAD_NAME) saying what is wrong."""
    if not isinstance(raw, str):
        raise FaceLensError(ErrorCode.BAD_NAME, f"a name must be text, not {type(raw).__name__}")
    name = _nfc(raw).strip()
    if not name:
        raise FaceLensError(ErrorCode.BAD_NAME, "a person's name must not be empty")
    for position, ch in enumerate(name):
        category = unicodedata.category(ch)
        if category in REFUSED and not _joins_a_word(name, position):
            raise FaceLensError(
                ErrorCode.BAD_NAME,
                f"the name {name!r} contains {REFUSED[category]},"
                f" {code_point(ch)}, at position {position}",
            )
    if len(name) > MAX_NAME_LENGTH:
        raise FaceLensError(
            ErrorCode.BAD_NAME,
            f"a name may have at most {MAX_NAME_LENGTH} characters, not {len(name)}",
        )
    return name


# Zero-width non-joiner and joiner are spelling inside Persian, Kurdish and Indic words
# (and emoji sequences): allowed between two visible characters, nowhere else.
JOINERS = {"\u200c", "\u200d"}


def _joins_a_word(name: str, position: int) -> bool:
    if name[position] not in JOINERS or not 0 < position < len(name) - 1:
        return False
    visible = ("L", "M", "N", "S")
    return all(unicodedata.category(name[i])[0] in visible for i in (position - 1, position + 1))


def name_key(name: str) -> str:
    """What makes two names the same person: NFC, trimmed, case-folded."""
    return _nfc(_nfc(name).strip().casefold())


def pick(name: str, stored: Sequence[str]) -> str | None:
    """Which of the `stored` names (all sharing `name`'s key, or equal to it) `name` means:
    the exact one, else the one equal after NFC and trimming, else the only one. Several
    case variants (possible in galleries written before this policy) are ambiguous."""
    candidates = sorted(set(stored))
    if name in candidates:
        return name
    same = [s for s in candidates if _nfc(s).strip() == _nfc(name).strip()]
    if len(same) == 1:
        return same[0]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    shown = ", ".join(repr(s) for s in candidates)
    raise FaceLensError(
        ErrorCode.BAD_NAME,
        f"{name!r} could be any of {shown}: give the exact name",
    )


def needs_escape(name: str) -> bool:
    return any(unicodedata.category(ch) in REFUSED for ch in name)


def escape_name(name: str) -> str:
    """The name printable on one line: refused characters (and then backslashes) escaped as
    \\xNN, \\uNNNN or \\UNNNNNNNN. Names within the policy come back unchanged."""
    if not needs_escape(name):
        return name

    def one(ch: str) -> str:
        if ch == "\\":
            return "\\\\"
        if unicodedata.category(ch) not in REFUSED:
            return ch
        point = ord(ch)
        if point < 0x100:
            return f"\\x{point:02x}"
        return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"

    return "".join(one(ch) for ch in name)


def unescape_name(text: str) -> str:
    """The inverse of `escape_name` for a name typed with escapes (e.g. on a command line,
    where a NUL cannot be passed)."""
    try:
        return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), text)
    except (ValueError, OverflowError) as error:
        raise FaceLensError(ErrorCode.BAD_NAME, f"bad escape in {text!r}: {error}") from None
