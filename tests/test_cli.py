"""The CLI's JSON: the shapes the issues promise, on real photos."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from facelens.cli import app
from facelens.gallery import Template, open_store
from facelens.lens import FaceLens
from facelens.recognition.operating_points import threshold_for

runner = CliRunner()


def _json(args: list[str]) -> dict | list:
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def images(fr_images: Path) -> Path:
    return fr_images / "tests" / "test_images"


def _mixed_folder(data_dir: Path, tmp_path: Path, photo: str, name: str) -> Path:
    """A folder with one real photo, a photo without a face and a file that is no image."""
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(data_dir / photo, folder / name)
    shutil.copy(data_dir / "inspireface/test_res/crop/no_face.png", folder / "empty.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


def test_quality_folder_lists_every_face_and_what_to_retake(data_dir: Path, tmp_path: Path) -> None:
    photo = "face_recognition/examples/obama-480p.jpg"
    folder = _mixed_folder(data_dir, tmp_path, photo, "good.jpg")
    rows = _json(["quality", str(folder), "--json", "--csv", str(tmp_path / "q.csv")])
    by_image = {Path(r["image"]).name: r for r in rows}
    assert set(by_image) == {"good.jpg", "empty.png", "broken.jpg"}
    good = by_image["good.jpg"]["quality"]
    assert {"score", "band", "verdict", "reasons", "components", "roi"} <= good.keys()
    assert good["verdict"] == "ok" and good["components"]["sharpness"]["score"] > 50
    assert by_image["empty.png"]["error"]["code"] == "no_face"
    assert by_image["broken.jpg"]["error"]["code"] == "not_an_image"
    with (tmp_path / "q.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert {r["verdict"] for r in table if r["image"].endswith(("empty.png", "broken.jpg"))} == {
        "retake"
    }


def test_analyze_folder_keeps_every_image(data_dir: Path, tmp_path: Path) -> None:
    folder = _mixed_folder(data_dir, tmp_path, "inspireface/test_res/attribute/7242.jpg", "two.jpg")
    rows = _json(["analyze", str(folder), "--json", "--csv", str(tmp_path / "a.csv")])
    by_image = {Path(r["image"]).name: r for r in rows}
    assert set(by_image) == {"two.jpg", "empty.png", "broken.jpg"}
    faces = by_image["two.jpg"]["result"]["faces"]  # two White females aged 20-29
    assert len(faces) == 2 and {f["gender"]["label"] for f in faces} == {"female"}
    assert by_image["empty.png"]["error"]["code"] == "no_face"
    assert by_image["broken.jpg"]["error"]["code"] == "not_an_image"
    with (tmp_path / "a.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["face"] for r in table if r["image"].endswith("two.jpg")] == ["0", "1"]
    # the CSV carries each face's attributes as the JSON has them (accuracy: test_attributes)
    for row, face in zip(table[-2:], faces, strict=True):
        assert row["gender"] == "female" and float(row["age"]) == face["age"]["years"]
    assert {r["error"] for r in table if not r["face"]} == {
        "no face was found",
        "the data is not a JPEG, PNG, WebP, AVIF, GIF, BMP or TIFF image",
    }


def test_analyze_json_has_every_attribute(images: Path) -> None:
    face = _json(["analyze", str(images / "obama.jpg"), "--json"])["faces"][0]
    assert face["quality"]["verdict"] == "ok"
    assert face["gender"]["label"] == "male" and face["gender"]["probability"] > 0.9
    assert face["age"]["bucket"] in {"(38-43)", "(48-53)"}
    assert set(face["expression"]["probabilities"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "neutral",
        "sad",
        "surprise",
    }


def test_explain_writes_the_overlay_and_faithfulness(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.png"
    result = _json(
        ["explain", str(images / "obama.jpg"), "--target", "gender", "--out", str(out), "--json"]
    )
    assert result["target"].startswith("gender:") and result["layer"]
    assert result["faithfulness"]["deletion_auc"] is not None
    picture = cv2.imread(str(out))
    photo = cv2.imread(str(images / "obama.jpg"))
    # The photo, then a white legend strip (title and colour scale) as wide as the photo.
    assert picture.shape[1] == photo.shape[1] and picture.shape[0] > photo.shape[0]
    strip = picture[photo.shape[0] :]
    assert (strip > 250).mean() > 0.6 and (strip < 100).any()  # white, with dark text


def test_explain_pair_panel(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "panel.png"
    args = [str(images / "obama.jpg"), str(images / "biden.jpg"), "--method", "gradient"]
    result = _json(["explain-pair", *args, "--out", str(out), "--json"])
    assert result["same_person"] is False and result["similarity"] < result["threshold"]
    # explained as FaceLens decides by default: the fused embedder, with its own threshold
    assert result["embedder"] == "fused"
    assert result["threshold"] == threshold_for("accuracy", False, "fused")
    assert result["a"]["value_range"] == [-1.0, 1.0] and result["b"]["crop_summary"]["min"] < 0
    assert out.stat().st_size > 1000


def test_detect_tiles_finds_the_small_faces(data_dir: Path) -> None:
    """Six small faces round a table: found tiled, on request or by the automatic retry of a
    big photo where one pass finds nothing."""
    group = data_dir / "inspireface/insightface_samples/t1.jpg"
    assert len(_json(["detect", str(group), "--tiles", "2", "--json"])["faces"]) == 6
    assert len(_json(["detect", str(group), "--json"])["faces"]) == 6


def test_verify_refusal_threshold_is_a_parameter(images: Path) -> None:
    args = ["verify", str(images / "obama.jpg"), str(images / "obama2.jpg"), "--json"]
    assert _json(args)["status"] == "ok"
    out = runner.invoke(app, [*args, "--retake-below", "0.95"])
    assert out.exit_code == 3, out.output  # refused: no decision, not a success
    refused = json.loads(out.stdout)
    assert refused["status"] == "retake" and refused["same_person"] is None
    assert refused["face_a"]["quality"]["score"] < 0.95


def test_gallery_names(images: Path, tmp_path: Path) -> None:
    """One person per name in any case; bad names refused (exit 2); names stored before the
    policy listed escaped, never read as Rich markup, and reachable with --escaped."""
    g = ["--gallery", str(tmp_path / "g")]
    enrol = ["gallery", "enroll", "Barack Obama", str(images / "obama.jpg"), *g, "--json"]
    assert _json(enrol)["person"] == "Barack Obama"
    enrol[2:4] = ["barack OBAMA", str(images / "obama2.jpg")]
    assert _json(enrol)["person"] == "Barack Obama"
    enrol[2:4] = ["Jo\u202ee", str(images / "biden.jpg")]
    bad = runner.invoke(app, enrol)
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "bad_name"
    assert "U+202E" in json.loads(bad.stdout)["error"]["message"]

    dim = FaceLens().embedder.dimension
    store, rng = open_store(tmp_path / "g", dim), np.random.default_rng(0)
    for i, name in enumerate(["a\x00b", "[/x]"]):  # written through the store: no check
        v = rng.standard_normal(dim).astype(np.float32)
        store.add(name, [Template(embedding=v / np.linalg.norm(v), content_hash=str(i))])
    store.close()
    listed = runner.invoke(app, ["gallery", "list", *g])
    assert listed.exit_code == 0, listed.output
    assert "a\\x00b" in listed.stdout and "[/x]" in listed.stdout and "--escaped" in listed.stdout

    rename = ["gallery", "rename", "a\\x00b", "Joe", "--escaped", *g, "--json"]
    assert _json(rename) == {"renamed": ["a\x00b", "Joe"]}
    taken = runner.invoke(app, ["gallery", "rename", "joe", "BARACK obama", *g])
    assert taken.exit_code == 2 and "name_taken" in taken.stderr
    assert runner.invoke(app, ["gallery", "remove", "[/x]", *g]).exit_code == 0
    missing = runner.invoke(app, ["gallery", "remove", "[/x]", *g])
    assert missing.exit_code == 2 and "not_found" in missing.stderr and "[/x]" in missing.stderr
    assert _json(["gallery", "list", *g, "--json"]) == [
        {"name": "Barack Obama", "templates": 2},
        {"name": "Joe", "templates": 1},
    ]


def test_version() -> None:
    from facelens import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"facelens {__version__}"


def test_reading_a_missing_gallery_is_an_error_not_a_new_gallery(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for args in (["list"], ["remove", "someone"], ["search", "x.jpg", "--json"]):
        result = runner.invoke(app, ["gallery", *args, "--gallery", str(missing)])
        assert result.exit_code == 2 and "no gallery at" in result.output, result.output
    assert not missing.exists()


def test_analyze_folder_prints_one_line_per_face(images: Path, tmp_path: Path) -> None:
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(images / name, tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    out = runner.invoke(app, ["analyze", str(tmp_path)])
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert out.exit_code == 0 and len(lines) == 3, out.stdout
    assert lines[0].startswith("biden.jpg face 0: Male") and "quality" in lines[0]
    assert lines[1].startswith("broken.jpg: the data is not")


def test_represent_and_find(images: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama2.jpg", "biden.jpg"):
        shutil.copy(images / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    summary = _json(["represent", str(folder), "--out", str(tmp_path / "f.npz"), "--json"])
    assert summary["faces"] == 2 and list(summary["failed"].values()) == ["not_an_image"]
    table = np.load(tmp_path / "f.npz")
    assert table["embedding"].shape == (2, FaceLens().embedder.dimension)
    assert str(table["embedder"]).startswith(FaceLens().embedder.name)
    assert np.allclose(np.linalg.norm(table["embedding"], axis=1), 1, atol=1e-5)

    find = ["find", str(images / "obama.jpg"), str(folder), "--json"]
    find += ["--cache-dir", str(tmp_path / "cache")]
    first = _json(find)["matches"]
    assert Path(first[0]["image"]).name == "obama2.jpg" and first[0]["same_person"]
    assert Path(first[1]["image"]).name == "biden.jpg" and not first[1]["same_person"]
    # A changed file is embedded again; the unchanged one comes from the cache.
    shutil.copy(images / "biden.jpg", folder / "obama2.jpg")
    again = _json(find)["matches"]
    assert not any(m["same_person"] for m in again)
    assert again[0]["similarity"] == again[1]["similarity"]  # two copies of biden.jpg


def test_detect_takes_a_folder(images: Path, tmp_path: Path) -> None:
    shutil.copy(images / "obama.jpg", tmp_path / "obama.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    rows = _json(["detect", str(tmp_path), "--json"])
    by_name = {Path(r["image"]).name: r for r in rows}
    assert len(by_name["obama.jpg"]["result"]["faces"]) == 1
    assert by_name["broken.jpg"]["error"]["code"] == "not_an_image"
    refused = runner.invoke(app, ["embed", str(tmp_path)])
    assert refused.exit_code == 2 and "represent" in refused.output


def test_verify_pairs_file(images: Path, tmp_path: Path) -> None:
    """Each pair gets a result; a photo in several pairs is read once; a bad photo fails
    only its pairs; a malformed file is an error naming the row."""
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        shutil.copy(images / name, tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "image_a,image_b\nobama.jpg,obama2.jpg\nobama.jpg,biden.jpg\nbroken.jpg,obama.jpg\n"
    )
    out = runner.invoke(
        app, ["verify-pairs", str(pairs), "--json", "--out", str(tmp_path / "r.csv")]
    )
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["same_person"] for r in rows[:2]] == [True, False]
    assert rows[0]["status"] == rows[1]["status"] == "ok"
    assert rows[2]["status"] == "error" and rows[2]["error"]["code"] == "not_an_image"
    single = _json(["verify", str(images / "obama.jpg"), str(images / "obama2.jpg"), "--json"])
    assert rows[0]["similarity"] == single["similarity"]
    with (tmp_path / "r.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["error"] for r in table] == ["", "", "not_an_image"]

    pairs.write_text("obama.jpg,obama2.jpg\nonly-one.jpg\n")
    bad = runner.invoke(app, ["verify-pairs", str(pairs), "--json"])
    assert bad.exit_code == 2 and "row 2" in json.loads(bad.stdout)["error"]["message"]


def test_help_shows_no_value_for_flags() -> None:
    """A flag takes no value (`--json true` is an error), so help must not show `<bool>`."""
    import typer

    group = typer.main.get_command(app)
    commands = [[name] for name in group.commands]  # type: ignore[attr-defined]
    commands += [["gallery", name] for name in group.commands["gallery"].commands]  # type: ignore[attr-defined]
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert shown.exit_code == 0, (command, shown.output)
        # (click's own --help row is typer's to fix)
        rows = [line for line in shown.output.splitlines() if "--help" not in line]
        assert not [row for row in rows if "<bool>" in row], command


def test_gallery_embedder_chosen_at_creation(images: Path, tmp_path: Path) -> None:
    """`--embedder` picks a new gallery's embedder; later commands follow its record, and an
    explicit other embedder is refused."""
    g = ["--gallery", str(tmp_path / "g")]
    enrol = ["gallery", "enroll", "Obama", str(images / "obama.jpg"), *g, "--embedder", "sface"]
    assert runner.invoke(app, enrol).exit_code == 0
    found = _json(["gallery", "search", str(images / "obama2.jpg"), *g, "--json"])
    assert found["identity"] == "Obama"
    enrol[-1] = "dlib"
    refused = runner.invoke(app, [*enrol, "--json"])
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"]["code"] == "embedder_mismatch"


def test_a_corrupt_gallery_is_a_clear_error(tmp_path: Path) -> None:
    """A gallery.sqlite that is not a database: `bad_gallery` naming the file, in Python, the
    CLI (exit 2) and at server start; the file is left as it was."""
    from facelens.api import Settings, create_app
    from facelens.errors import ErrorCode, FaceLensError
    from facelens.gallery.gallery import Gallery

    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "gallery.sqlite").write_bytes(b"not a database, just text" * 40)
    with pytest.raises(FaceLensError) as caught:
        Gallery(folder)
    assert caught.value.code == ErrorCode.BAD_GALLERY and "gallery.sqlite" in caught.value.message
    listed = runner.invoke(app, ["gallery", "list", "--gallery", str(folder), "--json"])
    assert listed.exit_code == 2
    assert json.loads(listed.stdout)["error"]["code"] == "bad_gallery"
    with pytest.raises(FaceLensError) as at_start:
        create_app(Settings(gallery_dir=folder, warm_up=False))
    assert at_start.value.code == ErrorCode.BAD_GALLERY
    assert (folder / "gallery.sqlite").read_bytes() == b"not a database, just text" * 40


def test_verify_points_a_folder_to_the_verbs_that_take_one(images: Path) -> None:
    from facelens.errors import ErrorCode, FaceLensError

    out = runner.invoke(app, ["verify", str(images), str(images / "obama.jpg")])
    assert out.exit_code == 2 and "verify-pairs" in out.output
    with pytest.raises(FaceLensError) as caught:  # the Python API names a folder as such
        FaceLens().detect(images)
    assert caught.value.code == ErrorCode.NOT_AN_IMAGE and "is a folder" in caught.value.message


@pytest.mark.parametrize(
    "args",
    [
        ["detect", "{long}.jpg"],
        ["analyze", "{long}.jpg", "--json"],
        ["represent", "{long}", "--out", "{tmp}/faces.npz"],
        ["video", "{long}.mp4", "--json"],  # the video reader's own check: unreadable_video
        ["analyze", "{image}", "--model", "age={long}.onnx"],
    ],
)
def test_a_path_the_os_refuses_is_a_clear_error(args: list[str], images: Path, tmp_path: Path):
    """A name longer than the file system allows (the OS refuses it before any existence
    check can answer) is an error value (`bad_argument` where nothing more specific checks
    it first), exit code 2, never a traceback."""
    values = {"long": "x" * 5000, "tmp": str(tmp_path), "image": str(images / "obama.jpg")}
    result = runner.invoke(app, [a.format(**values) for a in args])
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "File name too long" in output and "Traceback" not in output
    if "--json" in args:
        code = json.loads(result.stdout)["error"]["code"]
        assert code == ("unreadable_video" if args[0] == "video" else "bad_argument")


def test_an_unwritable_output_is_a_clear_error(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "map.png"  # OpenCV answers False, not an error, here
    args = ["explain", str(images / "obama.jpg"), "--target", "expression", "--out", str(out)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"] == {
        "code": "bad_argument",
        "message": f"could not write {out}",
    }


def test_single_photo_commands_take_the_detector(images: Path, tmp_path: Path) -> None:
    """--detector reaches the lens: each detector's box, as FaceLens finds it; a bad one is 2."""
    photo = images / "obama.jpg"
    boxes = {}
    for detector in ("yunet", "blazeface"):
        args = ["analyze", str(photo), "--json", "--no-quality", "--detector", detector]
        boxes[detector] = _json(args)["faces"][0]["box"]
        found = FaceLens(detector=detector).analyze(photo, quality=False, attributes=False)
        assert boxes[detector] == pytest.approx(found.faces[0].box.model_dump(), abs=1e-3)
    assert boxes["yunet"] != pytest.approx(boxes["blazeface"], abs=1.0)
    out = str(tmp_path / "x.npz")
    for command in (
        ["analyze", str(photo)],
        ["embed", str(photo)],
        ["verify", str(photo), str(photo)],
        ["represent", str(photo), "--out", out],
        ["quality", str(photo)],
    ):
        refused = runner.invoke(app, [*command, "--detector", "hog"])
        assert refused.exit_code == 2 and "yunet, blazeface" in refused.output
