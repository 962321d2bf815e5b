"""Bundles as single files (.zip, .tar.gz): packing, and extraction that cannot escape its folder.

Extraction accepts only regular files and folders with plain relative names: absolute paths,
``..`` components, symlinks, hard links and device files are refused, and the unpacked size is
capped, so an archive from an untrusted source cannot write outside the target folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

from .constants import MANIFEST_FILE
from .errors import BundleError
from .manifest import inside_bundle, sha256_file

MAX_UNPACKED_BYTES = 4 * 2**30  # far above any encoder bundle; stops decompression bombs


def pack_bundle(bundle_dir: str | Path, archive: str | Path) -> Path:
    """Write the bundle folder's files into ``archive`` (.zip or .tar.gz), under no top folder."""
    bundle_dir, archive = Path(bundle_dir), Path(archive)
    files = sorted(p for p in bundle_dir.rglob("*") if p.is_file())
    for path in files:  # a symlink to a file outside the bundle would carry that file's contents along
        inside_bundle(bundle_dir, path.relative_to(bundle_dir).as_posix())
    tmp = archive.with_name(f".{archive.name}.partial")
    if str(archive).lower().endswith(".zip"):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(bundle_dir).as_posix())
    elif str(archive).lower().endswith((".tar.gz", ".tgz")):
        with tarfile.open(tmp, "w:gz") as tf:
            for path in files:
                tf.add(path, arcname=path.relative_to(bundle_dir).as_posix(), recursive=False)
    else:
        raise BundleError(f"{archive}: unknown archive type; use .zip or .tar.gz")
    os.replace(tmp, archive)
    return archive


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    if not name or name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"{archive}: member {name!r} has an absolute or non-portable path; refusing the archive")
    path = PurePosixPath(name)
    if any(part in ("..", "") for part in path.parts) or path.is_absolute():
        raise BundleError(f"{archive}: member {name!r} points outside the bundle; refusing the archive")
    return path


def _members(archive: Path):
    """Yield (name, is_dir, size, reader) for each member, refusing anything but files and folders."""
    if str(archive).lower().endswith(".zip"):
        zf = zipfile.ZipFile(archive)
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise BundleError(f"{archive}: member {info.filename!r} is a symlink; refusing the archive")
            yield info.filename.rstrip("/"), info.is_dir(), info.file_size, (lambda i=info: zf.open(i))
        zf.close()
    else:
        tf = tarfile.open(archive, "r:*")
        for member in tf.getmembers():
            if not (member.isfile() or member.isdir()):
                kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
                raise BundleError(f"{archive}: member {member.name!r} is a {kind}; refusing the archive")
            yield member.name.rstrip("/"), member.isdir(), member.size, (lambda m=member: tf.extractfile(m))
        tf.close()


def extract_bundle(archive: str | Path, target: str | Path) -> Path:
    """Unpack ``archive`` into ``target`` (created; must not exist) and return the bundle folder.

    The bundle folder is ``target`` itself, or its single top-level folder when the archive wraps
    the bundle in one. Raises BundleError for unsafe members, oversized content or no manifest.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise BundleError(f"{target}: already exists; extract into a new folder")
    # A work folder of this process's own: several processes on one machine (Ray actors, worker
    # pools) may unpack the same archive at once, and only the first rename into place wins.
    work = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    total = 0
    try:
        for name, is_dir, size, open_member in _members(archive):
            rel = _safe_name(name, archive)
            dest = work.joinpath(*rel.parts)
            if is_dir:
                dest.mkdir(parents=True, exist_ok=True)
                continue
            total += size
            if total > MAX_UNPACKED_BYTES:
                raise BundleError(f"{archive}: unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB; refusing the archive")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open_member() as src, open(dest, "xb") as out:
                shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        shutil.rmtree(work, ignore_errors=True)
        raise BundleError(f"{archive}: not a readable bundle archive ({e})") from None
    except BundleError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        os.replace(work, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(work, ignore_errors=True)  # another process unpacked the same archive first
    if (target / MANIFEST_FILE).is_file():
        return target
    children = [p for p in target.iterdir()]
    if len(children) == 1 and (children[0] / MANIFEST_FILE).is_file():
        return children[0]
    raise BundleError(f"{archive}: no {MANIFEST_FILE} at its top level; this is not an edgeft bundle archive")


def cached_extract(archive: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Extract once per archive content into a cache folder keyed by the archive's sha256."""
    archive = Path(archive)
    digest = sha256_file(archive)
    root = Path(cache_dir or os.environ.get("EDGEFT_CACHE") or Path.home() / ".cache" / "edgeft" / "bundles")
    target = root / digest[:32]
    found = _extracted_bundle(target)
    if found is not None:
        return found
    if target.exists():
        shutil.rmtree(target)
    root.mkdir(parents=True, exist_ok=True)
    try:
        return extract_bundle(archive, target)
    except BundleError:
        found = _extracted_bundle(target)  # another process finished the same extraction meanwhile
        if found is None:
            raise
        return found


def _extracted_bundle(target: Path) -> Path | None:
    """The bundle folder inside a finished extraction at ``target`` (itself or its one top folder)."""
    if not target.is_dir():
        return None
    for folder in [target] + [p for p in target.iterdir() if p.is_dir()]:
        if (folder / MANIFEST_FILE).is_file():
            return folder
    return None
