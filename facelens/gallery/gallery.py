"""Gallery: enrol people from photos and identify faces (1:N), quality-gated.

Images are never stored: a template keeps the embedding, the face box, the quality score
and the source image's content hash (so enrolling the same photo twice adds nothing).

Names follow one policy (names.py), checked here for every backend: enrolment, rename and
import refuse a bad name with `bad_name`; a name differing from a stored one only in case
or Unicode form adds to that person; remove and rename find any stored name, even one
stored before the policy.

Every gallery records the embedder of its templates (record.py); opening, enrolling in or
searching a gallery of another embedder, or importing its export, is `embedder_mismatch`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from facelens.errors import ErrorCode, FaceLensError, check_count
from facelens.gallery import open_store, recorded_embedder
from facelens.gallery.names import valid_name
from facelens.gallery.record import check_record, record_of
from facelens.gallery.store import Fuse, Template, read_export_by_person
from facelens.io import ImageInput, os_problem, path_kind, read_file, shortened
from facelens.lens import FaceLens
from facelens.recognition.open_set import DEFAULT_OPEN_SET_POINT, open_set_threshold
from facelens.recognition.registry import DEFAULT_EMBEDDER, EMBEDDER_NAMES, NETWORKS
from facelens.types import (
    EnrolledImage,
    Enrollment,
    Face,
    GalleryMatch,
    Identification,
    Person,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def content_hash(source: bytes | bytearray | memoryview | np.ndarray) -> str:
    """A photo's identity for resumable enrolment: its encoded bytes' sha256 (a file is read
    first, so the same photo as a path or as bytes has one digest), or an array's pixels."""
    if isinstance(source, np.ndarray):
        data = np.ascontiguousarray(source).tobytes() + str(source.shape).encode()
    else:
        data = bytes(source)
    return hashlib.sha256(data).hexdigest()


def embedder_for(path_or_uri: str | os.PathLike[str]) -> tuple[str, bool]:
    """The embedder a gallery opened without a lens uses, and whether it flip-fuses: as its
    templates were made (so galleries written before the default changed keep working), else
    the default, plain."""
    record = recorded_embedder(path_or_uri)
    if record is None or record.name not in EMBEDDER_NAMES:
        return DEFAULT_EMBEDDER, False
    return record.name, record.flip


class Gallery:
    """A persistent gallery: a directory (SQLite + FAISS) or a Milvus URI (`milvus:x.db`).

    lens: the FaceLens that detects, assesses and embeds; by default one with the embedder
    the gallery records (a new gallery: the default embedder). A lens of another embedder
    than the gallery's is refused (`embedder_mismatch`): vectors of two networks never mix."""

    def __init__(
        self,
        path_or_uri: str | os.PathLike[str],
        lens: FaceLens | None = None,
        fuse: Fuse = "max",
    ) -> None:
        if lens is None:
            embedder, flip = embedder_for(path_or_uri)
            lens = FaceLens(flip=flip, embedder=embedder)
        self.lens = lens
        # A network's class holds its record: opening a gallery need not load the model
        network = NETWORKS.get(self.lens.embedder_name)
        self.location = os.fspath(path_or_uri)
        self.embedder = record_of(network or self.lens.embedder, self.lens.flip)
        self.store = open_store(path_or_uri, self.embedder.dimension, embedder=self.embedder)
        self.fuse: Fuse = fuse

    def _check_embedder(self) -> None:
        """The record again: another process may have rewritten the gallery since open."""
        check_record(self.store.stored_embedder(), self.embedder, self.location)

    def _largest_face(self, source: ImageInput) -> Face | None:
        """The photo's largest face with its embedding and quality, as verify sees it (on
        big photos the detector may stop at a coarse pass: only the largest face matters)."""
        try:
            return self.lens.verification_face(source)
        except FaceLensError as error:
            if error.code == ErrorCode.NO_FACE:
                return None
            raise

    def _stored_name(self, person: str) -> str:
        """The name to enrol `person` under: checked, then the stored case variant if any."""
        name = valid_name(person)
        return self.store.resolve(name) or name

    def enroll(self, person: str, images: ImageInput | Iterable[ImageInput]) -> Enrollment:
        """Add each photo's largest face as a template of `person`, unless refused (`images`:
        photos, or one photo).
        `Enrollment.person` is the stored name ("Obama" when enrolling "obama" adds to it)."""
        person = self._stored_name(person)
        self._check_embedder()
        if isinstance(images, str | Path | bytes | bytearray | memoryview | np.ndarray):
            images = [images]  # one photo, not a sequence of characters, bytes or rows
        items = [self._enroll_one(person, image) for image in images]
        return Enrollment(person=person, images=items)

    def _enroll_one(self, person: str, image: ImageInput) -> EnrolledImage:
        source = str(image) if isinstance(image, str | Path) else "<bytes>"
        if isinstance(image, str | Path):
            image = read_file(Path(image), self.lens.budget)  # once: for hash and face
        digest = content_hash(image)
        if self.store.has_hash(digest, person):
            return EnrolledImage(source=source, status="duplicate")
        if self.store.has_hash(digest):  # one photo, two identities: search could not decide
            reason = "this photo is already enrolled for another person"
            return EnrolledImage(source=source, status="other_person", reasons=[reason])
        face = self._largest_face(image)
        if face is None:
            return EnrolledImage(source=source, status="no_face", reasons=["no face found"])
        quality = face.quality
        if quality is not None and quality.verdict == "retake":
            return EnrolledImage(
                source=source, status="refused", quality=quality, reasons=quality.reasons
            )
        box = face.box
        template = Template(
            person=person,
            embedding=face.embedding_array,
            quality=quality.score if quality else 1.0,
            box=(box.x1, box.y1, box.x2, box.y2),
            content_hash=digest,
            metadata={"source": Path(source).name},
        )
        ids = self.store.add(person, [template])
        return EnrolledImage(
            source=source,
            status="enrolled" if ids else "duplicate",
            template_id=ids[0] if ids else None,
            quality=quality,
        )

    def enroll_dir(
        self, folder: Path, tick: Callable[[str, EnrolledImage], None] | None = None
    ) -> list[Enrollment]:
        """Enrol a folder laid out as PERSON/*.jpg. Resumable: photos already enrolled
        (same content hash) are skipped before any model runs."""
        self._check_embedder()
        if path_kind(folder, ErrorCode.BAD_ARGUMENT) != "folder":
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"no such folder: {shortened(folder)}")
        enrollments = []
        for person_dir in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
            photos = [p for p in sorted(person_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
            try:
                person, refusal = self._stored_name(person_dir.name), None
            except FaceLensError as error:  # a bad folder name refuses its photos, not the run
                person, refusal = person_dir.name, error.message
            items = []
            for path in photos:
                if refusal:
                    item = EnrolledImage(source=str(path), status="refused", reasons=[refusal])
                else:
                    try:
                        item = self._enroll_one(person, path)
                    except FaceLensError as error:  # one unreadable photo must not stop the run
                        item = EnrolledImage(
                            source=str(path), status="no_face", reasons=[error.message]
                        )
                items.append(item)
                if tick:
                    tick(person, item)
            enrollments.append(Enrollment(person=person, images=items))
        self.store.flush()
        return enrollments

    def search(
        self,
        image: ImageInput,
        k: int = 5,
        operating_point: str = DEFAULT_OPEN_SET_POINT,
        fuse: Fuse | None = None,
    ) -> Identification:
        """Top-k people for the photo's largest face; `identity` is None when no one clears
        the threshold (open set). operating_point: a 1:N point, `fpir_1e-2` (default; 1% of
        people not enrolled would be taken for someone), `fpir_1e-1` or `fpir_1e-3`, whose
        threshold grows with the gallery (recognition.open_set), or a 1:1 point as in
        verify. fuse: how a person's templates combine into one score, "max" or "mean"
        (default: the gallery's, "max", the better on LFW)."""
        k = check_count("k", k)
        if fuse not in (None, "max", "mean"):
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"fuse must be max or mean, not {fuse!r}")
        self._check_embedder()
        threshold = open_set_threshold(
            operating_point, self.store.searched(), self.lens.flip, self.lens.embedder_name
        )
        face = self._largest_face(image)
        if face is None:
            raise FaceLensError(ErrorCode.NO_FACE, "no face was found in the probe image")
        quality = face.quality
        if quality is not None and quality.verdict == "retake":
            return Identification(
                identity=None,
                threshold=threshold,
                operating_point=operating_point,
                matches=[],
                face=face,
                status="retake",
                reasons=quality.reasons,
            )
        hits = self.store.search(face.embedding_array[None], k=k, fuse=fuse or self.fuse)[0]
        matches = [
            GalleryMatch(
                person=h.person, similarity=round(float(h.similarity), 6), template_id=h.template_id
            )
            for h in hits
        ]
        best = matches[0] if matches else None
        return Identification(
            identity=best.person if best and best.similarity > threshold else None,
            threshold=threshold,
            operating_point=operating_point,
            matches=matches,
            face=face,
            status="low" if quality is not None and quality.verdict == "low" else "ok",
        )

    def people(self) -> list[Person]:
        return [Person(name=p.name, templates=p.templates) for p in self.store.people()]

    def remove(self, person: str) -> int:
        """Delete `person` (any stored name, matched as in `names.pick`) and their templates;
        returns the number of templates removed."""
        try:
            return self.store.remove(_storable(person))
        except KeyError:
            raise _not_found(person) from None

    def rename(self, old: str, new: str) -> str:
        """Rename `old` (any stored name) to `new` (checked by the name policy); returns the
        stored new name. A change of case only is allowed; another person's name (in any
        case) is `name_taken`: nothing is merged."""
        name = valid_name(new)
        try:
            self.store.rename(_storable(old), name)
        except KeyError:
            raise _not_found(old) from None
        except ValueError as error:
            raise FaceLensError(ErrorCode.NAME_TAKEN, str(error)) from None
        return name

    def export(self, path: Path) -> int:
        try:
            return self.store.export(path)
        except OSError as error:  # a missing folder, a name too long, a full disk
            message = f"cannot write the export: {os_problem(path, error)}"
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, message) from None

    def import_(self, path: Path) -> int:
        """Merge an exported gallery; returns templates added. Its names are checked first:
        one bad name imports nothing. A name already here (in any case) adds to that person."""
        try:
            entries = read_export_by_person(path, self.embedder)
        except OSError as error:
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, os_problem(path, error)) from None
        except (ValueError, KeyError) as error:
            raise FaceLensError(ErrorCode.BAD_ARGUMENT, f"{shortened(path)}: {error}") from None
        checked, refused = [], []
        for person, templates in entries:
            try:
                name = valid_name(person)
            except FaceLensError as error:
                refused.append(error.message)
                continue
            checked.append((name, [replace(t, person=name) for t in templates]))
        if refused:
            raise FaceLensError(
                ErrorCode.BAD_NAME,
                f"{path}: {len(refused)} name(s) break the name policy, nothing was imported"
                f" (rename them in the source gallery): {'; '.join(refused[:3])}",
            )
        return len(self.store.add_many(checked))

    def close(self) -> None:
        self.store.close()


def _storable(name: str) -> str:
    """A lookup name; one with lone surrogates (no store can hold it) is nobody's."""
    if not isinstance(name, str):
        raise FaceLensError(ErrorCode.BAD_NAME, f"a name must be text, not {type(name).__name__}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _not_found(name) from None
    return name


def _not_found(name: str) -> FaceLensError:
    return FaceLensError(ErrorCode.NOT_FOUND, f"no person named {name!r}")
