"""People's names: the policy (names.py), case-insensitive people in both stores, names
stored before the policy (written through the store, which does not check) staying
reachable, and the Gallery facade refusing bad names on enrol, rename and import."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

# opener: the fixture opening a store of each backend (a parameter below, hence F811)
from samples import reencoded
from test_gallery_store import DIM, e, opener, tpl  # noqa: F401

from facelens.errors import ErrorCode, FaceLensError
from facelens.gallery import GalleryStore, open_store
from facelens.gallery.gallery import Gallery
from facelens.gallery.names import (
    MAX_NAME_LENGTH,
    escape_name,
    name_key,
    pick,
    unescape_name,
    valid_name,
)
from facelens.lens import FaceLens

PATH_LIKE = ["a/b", "/", ".", "..", "../../etc/passwd", "%2F", "a?b#c", "O'Brien", "李小龍"]
HOSTILE = [  # (character, what the error must name)
    ("\x00", "U+0000"),
    ("\n", "U+000A"),
    ("\t", "U+0009"),
    ("\x1b", "U+001B"),
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("\u2028", "U+2028 LINE SEPARATOR"),
    ("\ue000", "U+E000"),
    ("\u0378", "U+0378"),
    ("\U000e0001", "U+E0001 LANGUAGE TAG"),
]
# What galleries written before the policy may hold: each must stay listable, searchable,
# removable and renamable.
LEGACY = [
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "\u202eevil",
    "zero\u200bwidth",
    " padded ",
    'quote"back\\slash',
    "[/markup]",
    *PATH_LIKE[:5],
]
NFD, NFC = "Zoe\u0308", "Zo\u00eb"

DLIB = FaceLens(embedder="dlib")


def refused(call: Callable[[], object], code: ErrorCode = ErrorCode.BAD_NAME) -> str:
    with pytest.raises(FaceLensError) as error:
        call()
    assert error.value.code == code, error.value.message
    return error.value.message


# ---- the policy --------------------------------------------------------------------------


def test_names_are_normalised_and_path_like_names_are_fine() -> None:
    assert valid_name(f"  {NFD}\n") == NFC and unicodedata.is_normalized("NFC", valid_name(NFD))
    for name in PATH_LIKE:
        assert valid_name(name) == name
    assert valid_name("x" * MAX_NAME_LENGTH) == "x" * MAX_NAME_LENGTH
    assert "at most 128" in refused(lambda: valid_name("x" * (MAX_NAME_LENGTH + 1)))
    assert "empty" in refused(lambda: valid_name(" \t\n "))


@pytest.mark.parametrize(("ch", "named"), HOSTILE)
def test_hostile_characters_are_refused_by_name(ch: str, named: str) -> None:
    message = refused(lambda: valid_name(f"ab{ch}cd"))
    assert named in message and "position 2" in message
    assert ch not in message  # the message itself is safe to print


def test_joiners_are_spelling_inside_a_word_only() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ inside a word
    assert valid_name(persian) == persian
    assert valid_name("\U0001f469\u200d\U0001f52c") == "\U0001f469\u200d\U0001f52c"
    for outside in ("\u200cab", "ab\u200d", "a \u200c b"):
        assert "U+200" in refused(lambda name=outside: valid_name(name))


def test_one_key_per_person() -> None:
    assert name_key("Obama") == name_key("obama") == name_key("OBAMA") == name_key(" obama ")
    assert name_key(NFD) == name_key(NFC) == name_key(NFC.upper())
    assert name_key("Straße") == name_key("STRASSE")  # full case folding
    assert name_key("Obama") != name_key("Obamà")


def test_pick_prefers_the_exact_name() -> None:
    assert pick("obama", ["Obama"]) == "Obama"
    assert pick("obama", []) is None
    assert pick("OBAMA", ["Obama", "OBAMA"]) == "OBAMA"
    assert pick(NFD, [NFC, NFC.upper()]) == NFC
    assert "give the exact name" in refused(lambda: pick("obama", ["Obama", "OBAMA"]))


def test_escaped_names_read_back() -> None:
    for name in LEGACY:
        shown = escape_name(name)
        assert unescape_name(shown) == name
        assert shown.isprintable() or name == " padded "
    assert escape_name("a\\b") == "a\\b"  # names within the policy print as they are
    assert escape_name("a\x00b\\c") == "a\\x00b\\\\c"


# ---- the stores: one person per key, any stored name reachable ----------------------------


def test_store_people_are_case_and_form_insensitive(
    opener: Callable[..., GalleryStore],  # noqa: F811
) -> None:
    s = opener()
    s.add("Obama", [tpl(e(0), "o1")])
    assert len(s.add("obama", [tpl(e(1), "o2")])) == 1
    s.add(NFD, [tpl(e(2), "z1")])
    s.add(NFC, [tpl(e(3), "z2")])
    assert [(p.name, p.templates) for p in s.people()] == [("Obama", 2), (NFD, 2)]
    assert s.resolve("OBAMA") == "Obama" and s.resolve("nobody") is None
    assert s.has_hash("o2", "OBAMA") and len(s.templates("oBaMa")) == 2
    assert s.search(e(1), k=1)[0][0].person == "Obama"

    s.rename("obama", "BARACK")
    s.rename("barack", "Barack")  # only the case changes: allowed
    s.add("Joe", [tpl(e(4), "j1")])
    with pytest.raises(ValueError):
        s.rename("Barack", "JOE")  # another person's name in another case: refused
    assert [(p.name, p.templates) for p in s.people()] == [("Barack", 2), ("Joe", 1), (NFD, 2)]
    assert s.remove("joe") == 1 and s.remove(NFC.upper()) == 2
    assert [p.name for p in s.people()] == ["Barack"]


def test_store_bulk_add_merges_case_variants(
    opener: Callable[..., GalleryStore],  # noqa: F811
) -> None:
    """Many names at once (Milvus then reads every name in one scan) and in one batch."""
    s = opener()
    s.add("Obama", [tpl(e(0), "o1")])
    batch = [(f"P{i}", [tpl(e(i + 1), f"p{i}")]) for i in range(20)]
    batch += [("OBAMA", [tpl(e(30), "o2")]), ("p3", [tpl(e(31), "p3b")])]
    assert len(s.add_many(batch)) == 22
    counts = {p.name: p.templates for p in s.people()}
    assert len(counts) == 21 and counts["Obama"] == 2 and counts["P3"] == 2


def test_store_reaches_any_stored_name(opener: Callable[..., GalleryStore]) -> None:  # noqa: F811
    s = opener()
    for i, name in enumerate(LEGACY):
        s.add(name, [tpl(e(i), f"h{i}")])  # stores take names as given
    assert sorted(p.name for p in s.people()) == sorted(LEGACY)
    for i, name in enumerate(LEGACY):
        assert s.search(e(i), k=1)[0][0].person == name
        assert s.resolve(name) == name and len(s.templates(name)) == 1
    s.rename("a\x00b", "fixed")
    assert s.resolve("FIXED") == "fixed" and s.templates("a\x00b") == []
    for name in LEGACY[1:]:
        assert s.remove(name) == 1
    assert [p.name for p in s.people()] == ["fixed"]


def test_sqlite_gallery_without_name_keys_is_upgraded(tmp_path: Path) -> None:
    """A gallery written before name keys: no `key` column, case variants as two people."""
    s = open_store(tmp_path / "g", DIM)
    for i, name in enumerate(["Obama", "Biden", "a\x00b", "tmp"]):
        s.add(name, [tpl(e(i), f"h{i}")])
    s.close()
    with sqlite3.connect(tmp_path / "g" / "gallery.sqlite") as db:
        db.execute("UPDATE people SET name='OBAMA' WHERE name='tmp'")
        db.execute("DROP INDEX people_key")
        db.execute("ALTER TABLE people DROP COLUMN key")
    s = open_store(tmp_path / "g", DIM)
    assert sorted(p.name for p in s.people()) == ["Biden", "OBAMA", "Obama", "a\x00b"]
    assert s.resolve("biden") == "Biden" and s.resolve("OBAMA") == "OBAMA"
    refused(lambda: s.resolve("obama"))  # two people could be meant: ask for the exact name
    s.add("BIDEN", [tpl(e(5), "h5")])
    assert [p.templates for p in s.people() if p.name == "Biden"] == [2]
    with pytest.raises(ValueError):
        s.rename("OBAMA", "obama")  # would merge into Obama
    s.rename("OBAMA", "Michelle")
    assert s.resolve("obama") == "Obama" and s.remove("a\x00b") == 1
    s.close()


def test_milvus_rows_without_name_keys_are_matched(tmp_path: Path) -> None:
    """Rows written before name keys have no extra["person_key"]: matched by their names."""
    s = open_store(f"milvus:{tmp_path / 'g.db'}", DIM)
    s.add("Obama", [tpl(e(0), "o1")])
    rows = s._c.query(s.name, filter='person == "Obama"', output_fields=["*"])  # type: ignore[attr-defined]
    old = [{**r, "extra": {"box": None, "metadata": {}}} for r in rows]
    s._c.upsert(s.name, old)  # type: ignore[attr-defined]
    assert s.resolve("OBAMA") == "Obama"
    s.add("obama", [tpl(e(1), "o2")])
    assert [(p.name, p.templates) for p in s.people()] == [("Obama", 2)]
    s.close()


# ---- the Gallery facade: the policy on rename, remove and import ---------------------------


@pytest.fixture(params=["sqlite", "milvus"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    return lambda name: (
        str(tmp_path / name) if request.param == "sqlite" else (f"milvus:{tmp_path / name}.db")
    )


def test_gallery_rename_and_remove(target: Callable[[str], str]) -> None:
    g = Gallery(target("g"), lens=DLIB)  # 128-d synthetic templates, as a dlib gallery
    for i, name in enumerate([*LEGACY, "Obama"]):
        g.store.add(name, [tpl(e(i), f"h{i}")])  # the store does not check: old galleries
    assert g.rename("a\x00b", f"  {NFD} ") == NFC
    assert "U+202E" in refused(lambda: g.rename(NFC, "bad\u202ename"))
    assert "'Obama'" in refused(lambda: g.rename(NFC, "OBAMA"), ErrorCode.NAME_TAKEN)
    assert g.rename("obama", "OBAMA") == "OBAMA"
    refused(lambda: g.rename("nobody", "x"), ErrorCode.NOT_FOUND)
    refused(lambda: g.remove("nobody"), ErrorCode.NOT_FOUND)
    refused(lambda: g.remove("\ud800"), ErrorCode.NOT_FOUND)  # no store can hold it
    for name in LEGACY[1:]:
        assert g.remove(name) == 1
    assert [(p.name, p.templates) for p in g.people()] == [("OBAMA", 1), (NFC, 1)]
    g.close()


def test_gallery_import_checks_names(target: Callable[[str], str], tmp_path: Path) -> None:
    old = open_store(target("old"), DIM)
    old.add("ok", [tpl(e(0), "a")])
    old.add("bad\x00name", [tpl(e(1), "b")])
    old.export(tmp_path / "old.npz")
    old.remove("bad\x00name")
    old.add(NFD, [tpl(e(2), "c")])
    old.add("OBAMA", [tpl(e(3), "d")])
    old.export(tmp_path / "clean.npz")
    old.close()

    g = Gallery(target("new"), lens=DLIB)  # the exports hold 128-d dlib-era templates
    g.store.add("Obama", [tpl(e(4), "o")])
    message = refused(lambda: g.import_(tmp_path / "old.npz"))
    assert "U+0000" in message and "nothing was imported" in message
    assert [p.name for p in g.people()] == ["Obama"]
    assert g.import_(tmp_path / "clean.npz") == 3
    assert [(p.name, p.templates) for p in g.people()] == [("Obama", 2), ("ok", 1), (NFC, 1)]
    refused(lambda: g.import_(tmp_path / "missing.npz"), ErrorCode.BAD_ARGUMENT)
    g.close()


# ---- enrolment with real photos ------------------------------------------------------------


def test_enrolment_names(tmp_path: Path, photos: dict[str, bytes]) -> None:
    g = Gallery(tmp_path / "g")
    assert g.enroll("Barack Obama", [photos["obama"]]).images[0].status == "enrolled"
    again = g.enroll("  barack OBAMA ", [photos["obama2"]])
    assert again.person == "Barack Obama" and again.images[0].status == "enrolled"
    assert g.enroll(NFD, [photos["biden"]]).person == NFC
    assert g.enroll(NFC.upper(), [photos["biden"]]).images[0].status == "duplicate"
    for ch, named in HOSTILE[:6]:
        assert named in refused(lambda ch=ch: g.enroll(f"Jo{ch}e", [photos["biden"]]))
    # the same photo under a second identity: refused, nothing stored for that name
    other = g.enroll("Someone Else", [photos["biden"]]).images[0]
    assert other.status == "other_person" and "another person" in other.reasons[0]
    assert [(p.name, p.templates) for p in g.people()] == [("Barack Obama", 2), (NFC, 1)]
    assert g.search(photos["obama"]).identity == "Barack Obama"

    folder = tmp_path / "people"
    for i, name in enumerate(("joe biden", "bad\u200bname")):
        (folder / name).mkdir(parents=True)
        (folder / name / "a.jpg").write_bytes(reencoded(photos["biden"], i))
    results = {r.person: r.images[0] for r in g.enroll_dir(folder)}
    assert results["joe biden"].status == "enrolled"
    assert results["bad\u200bname"].status == "refused"
    assert "U+200B" in results["bad\u200bname"].reasons[0]
    assert "bad\u200bname" not in {p.name for p in g.people()}
    g.close()
    assert len(Gallery(tmp_path / "g").people()) == 3  # persisted
