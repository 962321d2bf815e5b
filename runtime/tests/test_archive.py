"""Bundle archives: round trip, and no member can write outside the target folder."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

import edgeft_runtime
from edgeft_runtime import BundleError
from edgeft_runtime.archive import extract_bundle, pack_bundle


@pytest.mark.parametrize("suffix", ["zip", "tar.gz"])
def test_round_trip_and_cached_load(sentiment_bundle, tmp_path, suffix):
    archive = pack_bundle(sentiment_bundle, tmp_path / f"b.{suffix}")
    cache = tmp_path / "cache"
    model = edgeft_runtime.load(archive, cache_dir=cache)
    assert model.predict("good film")["label"] == "pos"
    assert model.bundle_dir.parent == cache
    again = edgeft_runtime.load(archive, cache_dir=cache)  # extracted once, reused
    assert again.bundle_dir == model.bundle_dir
    assert len(list(cache.iterdir())) == 1


def test_archive_with_a_top_folder(sentiment_bundle, tmp_path):
    archive = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sentiment_bundle.iterdir():
            zf.write(path, f"sentiment-int8/{path.name}")
    folder = extract_bundle(archive, tmp_path / "out")
    assert folder == tmp_path / "out" / "sentiment-int8"
    assert edgeft_runtime.load(folder).labels == ["neg", "pos"]


def zip_with(tmp_path, name, data=b"x", mode=None):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return archive


def tar_with(tmp_path, member: tarfile.TarInfo, data=b"x"):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        member.size = len(data) if member.isfile() else 0
        tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return archive


@pytest.mark.parametrize(
    "name, message",
    [("../escape.txt", "points outside the bundle"), ("/etc/evil", "absolute"), ("a/../../x", "points outside"), ("C:\\x", "non-portable"), ("dir\\..\\x", "non-portable")],
)
def test_zip_path_traversal_is_refused(tmp_path, name, message):
    with pytest.raises(BundleError, match=message):
        extract_bundle(zip_with(tmp_path, name), tmp_path / "target")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "target").exists() and not (tmp_path / ".target.partial").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = zip_with(tmp_path, "link", data=b"/etc/passwd", mode=stat.S_IFLNK | 0o777)
    with pytest.raises(BundleError, match="is a symlink"):
        extract_bundle(archive, tmp_path / "target")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: tarfile.TarInfo("../escape.txt"), "points outside the bundle"),
        (lambda: tarfile.TarInfo("/abs.txt"), "absolute"),
        (lambda: _tar_link("link", tarfile.SYMTYPE, "/etc/passwd"), "is a symlink"),
        (lambda: _tar_link("hard", tarfile.LNKTYPE, "edgeft.json"), "is a hard link"),
        (lambda: _tar_link("dev", tarfile.CHRTYPE, ""), "is a special file"),
    ],
)
def test_tar_escapes_are_refused(tmp_path, make, message):
    with pytest.raises(BundleError, match=message):
        extract_bundle(tar_with(tmp_path, make()), tmp_path / "target")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "target").exists()


def _tar_link(name, kind, target):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_not_an_archive_or_no_manifest(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really")
    with pytest.raises(BundleError, match="not a readable bundle archive"):
        extract_bundle(bad, tmp_path / "t1")
    with pytest.raises(BundleError, match="no edgeft.json at its top level"):
        extract_bundle(zip_with(tmp_path, "notes.txt"), tmp_path / "t2")
