"""The manifest of every weight file the suite reads, where it looks for them, and how to fetch them.

A run never downloads: files are read from a local folder given by ``--weights-dir`` or the
``FLOAT_EVAL_WEIGHTS`` environment variable (default ``~/.cache/float-eval``). A missing or wrong file raises
:class:`WeightsError` naming the file, its source and the folder to put it in. ``float-eval weights fetch``
(:func:`fetch_weights`) downloads what is missing, when online, and keeps a file only if its digest matches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "MANIFEST",
    "WEIGHTS_ENV",
    "FetchResult",
    "WeightFile",
    "WeightStatus",
    "WeightsError",
    "check_weights",
    "fetch_weights",
    "file_sha256",
    "manifest_entry",
    "missing_weights_message",
    "resolve_weight",
    "weights_dir",
]

WEIGHTS_ENV = "FLOAT_EVAL_WEIGHTS"
DEFAULT_DIR = Path("~/.cache/float-eval")


class WeightFile(BaseModel):
    """One file the suite needs.

    ``sha256`` is the full digest when it is pinned; ``sha256_prefix`` the leading hex digits published in the
    file name (torch-hub convention) when only those are known. With neither, the check reports the digest it
    computed so that the report can record exactly which file was used.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    metrics: tuple[str, ...]
    url: str
    licence: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    note: str = ""
    # A direct download (``url`` may be a page); ``member`` names the file inside it when it is a zip.
    # None: it must be downloaded by hand from ``url`` (e.g. a Google Drive folder).
    download: str | None = None
    member: str | None = None


MANIFEST: tuple[WeightFile, ...] = (
    WeightFile(
        name="pt_inception-2015-12-05-6726825d.pth",
        metrics=("fid",),
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        licence="Apache-2.0 (pytorch-fid port of the TF Inception FID graph)",
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        sha256_prefix="6726825d",
        size=95628359,
        download="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        note="pytorch-fid 0.3.0 FID Inception (pool3, 2048-d). Digest and size: Git LFS pointers of two "
        "Hugging Face mirrors (JamesHujy/EMABench commit f246ee5, RaphaelLiu/EvalCrafter-Models commit "
        "6040b4d); they agree with the 6726825d prefix pytorch-fid publishes in the file name",
    ),
    WeightFile(
        name="i3d_torchscript.pt",
        metrics=("fvd",),
        url="https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt",
        licence="Apache-2.0 (tf.hub i3d-kinetics-400, TorchScript port used by StyleGAN-V)",
        download="https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",
        note="StyleGAN-V fvd2048_16f detector, 400-d features. Not pinned: no public source found that "
        "states its sha256 (reports record the digest of the file used, and list it as unpinned)",
    ),
    WeightFile(
        name="syncnet_v2.model",
        metrics=("lse",),
        url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        licence="MIT (joonson/syncnet_python); check the VGG site's terms",
        sha256="961e8696f888fce4f3f3a6c3d5b3267cf5b343100b238e79b2659bff2c605442",
        download="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
        note="SyncNet v2 'S' state dict. Digest: Git LFS pointers of two Hugging Face mirrors "
        "(chunyu-li/LatentSync auxiliary/syncnet_v2.model, lithiumice/models_hub_2 "
        "syncnet/syncnet_v2.model); exact size not stated (54.6 MB)",
    ),
    WeightFile(
        name="sfd_face.pth",
        metrics=("lse",),
        url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
        licence="MIT (joonson/syncnet_python, S3FD from yxlijun/S3FD.pytorch); check the VGG site's terms",
        sha256="d54a87c2b7543b64729c9a25eafd188da15fd3f6e02f0ecec76ae1b30d86c491",
        download="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
        note="S3FD face detector of syncnet_python's LSE tracks (S3FDNet state dict). Digest: the LFS/Xet "
        "pointer of one Hugging Face mirror (Hyathi/Preprocess sfd_face.pth, 89.8 MB), not cross-checked",
    ),
    WeightFile(
        name="w600k_r50.onnx",
        metrics=("csim",),
        url="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
        licence="non-commercial research only (insightface model pack buffalo_l)",
        sha256="4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",
        size=174383860,
        download="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
        member="w600k_r50.onnx",
        note="ArcFace R50 (WebFace600K), 112x112 input, 512-d output; unzip buffalo_l.zip. Digest and size: "
        "Git LFS pointers of two Hugging Face mirrors (maze/faceX commit 726aff7, OwlMaster/live_rope commit "
        "f16e949)",
    ),
    WeightFile(
        name="det_10g.onnx",
        metrics=("csim", "efid", "pfid"),
        url="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
        licence="non-commercial research only (insightface model pack buffalo_l)",
        sha256="5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91",
        size=16923827,
        download="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
        member="det_10g.onnx",
        note="SCRFD-10G face detector with 5 keypoints (also LSE tracks with --face-detector scrfd); unzip "
        "buffalo_l.zip. Digest and size: Git LFS pointers of Hugging Face mirrors (AndorML/Public commit "
        "121864c, luca115/stable-diffusion insightface/models/buffalo_l/det_10g.onnx, leonelhs/HiFiFace "
        "face_detector_scrfd_10g_bnkps.onnx)",
    ),
    WeightFile(
        name="epoch_20.pth",
        metrics=("efid", "pfid"),
        url="https://drive.google.com/drive/folders/1liaIxn9smpudjjqMaWWRpP0mXRW_qRPP",
        licence="MIT code (sicxu/Deep3DFaceRecon_pytorch); model derived from BFM09 (Basel licence terms)",
        sha256="6d17a6b23457b521801baae583cb6a58f7238fe6721fc3d65d76407460e9149b",
        size=288860037,
        note="Deep3DFaceRecon ResNet-50 regressor, checkpoint dict with key 'net_recon' (257 coefficients). "
        "Digest and size: the Git LFS pointer of one Hugging Face mirror (leonelhs/HiFiFace commit 2cdd5aa, "
        "Deep3DFaceRecon/epoch_20.pth), not cross-checked",
    ),
    WeightFile(
        name="similarity_Lm3D_all.mat",
        metrics=("efid", "pfid"),
        url="https://github.com/sicxu/Deep3DFaceRecon_pytorch (BFM/similarity_Lm3D_all.mat)",
        licence="MIT (Deep3DFaceRecon_pytorch repository)",
        sha256="53b83ce6e35c50ddc3e97603650cef4970320c157e75c241c844f29c1dcba65a",
        size=994,
        download="https://raw.githubusercontent.com/sicxu/Deep3DFaceRecon_pytorch/master/BFM/similarity_Lm3D_all.mat",
        note="68 standard 3D landmarks used by Deep3DFaceRecon's align_img. Digest: the Git LFS pointer of "
        "the Hugging Face space gwang-kim/DATID-3D (pose_estimation/BFM); 994 bytes also in SadTalker's copy",
    ),
)


class WeightsError(FileNotFoundError):
    """A weight file is missing or is not the expected file."""


def weights_dir(path: str | Path | None = None) -> Path:
    """The weights folder: ``path``, else ``$FLOAT_EVAL_WEIGHTS``, else ``~/.cache/float-eval``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else DEFAULT_DIR.expanduser()


def manifest_entry(name: str) -> WeightFile:
    """The manifest row of file ``name``."""
    for entry in MANIFEST:
        if entry.name == name:
            return entry
    raise KeyError(
        f"{name!r} is not in the float-eval weights manifest ({', '.join(e.name for e in MANIFEST)})"
    )


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class WeightStatus(BaseModel):
    """Result of checking one manifest file in a folder."""

    name: str
    path: str
    present: bool
    ok: bool
    sha256: str | None = None
    size: int | None = None
    message: str


def _check(entry: WeightFile, folder: Path) -> WeightStatus:
    return _check_file(entry, folder / entry.name)


def _check_file(entry: WeightFile, path: Path) -> WeightStatus:
    if not path.is_file():
        return WeightStatus(
            name=entry.name,
            path=str(path),
            present=False,
            ok=False,
            message=f"missing: download it from {entry.url} and put it at {path}",
        )
    size = path.stat().st_size
    digest = file_sha256(path)
    problems = []
    if entry.size is not None and size != entry.size:
        problems.append(f"size {size} != expected {entry.size}")
    if entry.sha256 is not None and digest != entry.sha256:
        problems.append(f"sha256 {digest} != expected {entry.sha256}")
    if entry.sha256_prefix is not None and not digest.startswith(entry.sha256_prefix):
        problems.append(f"sha256 {digest[:16]}... does not start with {entry.sha256_prefix}")
    if problems:
        message = f"wrong file ({'; '.join(problems)}): replace it with the one from {entry.url}"
        return WeightStatus(
            name=entry.name, path=str(path), present=True, ok=False, sha256=digest, size=size, message=message
        )
    pinned = entry.sha256 is not None or entry.sha256_prefix is not None
    message = "ok" if pinned else "present (sha256 not pinned in the manifest; recorded in reports)"
    return WeightStatus(
        name=entry.name, path=str(path), present=True, ok=True, sha256=digest, size=size, message=message
    )


def check_weights(folder: str | Path | None = None, names: list[str] | None = None) -> list[WeightStatus]:
    """Check every manifest file (or only ``names``) in ``folder``; never raises for missing files."""
    root = weights_dir(folder)
    entries = MANIFEST if names is None else tuple(manifest_entry(n) for n in names)
    return [_check(entry, root) for entry in entries]


def resolve_weight(name: str, folder: str | Path | None = None, verify: bool = True) -> tuple[Path, str]:
    """Path and sha256 of manifest file ``name`` in the weights folder, after checking it.

    ``verify=False`` accepts a present file whose size or digest differs from the manifest (your own export
    or a test stand-in); the caller must then say so next to the numbers (reports list such files).

    Raises:
        WeightsError: the file is missing or (with ``verify``) does not match the manifest; the message says
            where it comes from and where to put it (``--weights-dir`` or ``$FLOAT_EVAL_WEIGHTS``).
    """
    entry = manifest_entry(name)
    status = _check(entry, weights_dir(folder))
    if not status.ok and (verify or not status.present):
        raise WeightsError(
            f"weight file {name} ({entry.note}; licence: {entry.licence}) is {status.message}. "
            f"Point --weights-dir or ${WEIGHTS_ENV} at the folder holding it."
        )
    assert status.sha256 is not None
    return Path(status.path), status.sha256


def missing_weights_message(statuses: list[WeightStatus], folder: str | Path | None = None) -> str:
    """One message listing every missing or wrong file with its source, destination and expected sha256."""
    root = weights_dir(folder)
    lines = [f"{len(statuses)} weight file(s) missing or wrong in {root}:"]
    for status in statuses:
        entry = manifest_entry(status.name)
        state = "wrong" if status.present else "missing"
        lines.append(f"  {entry.name} [{state}] for {', '.join(entry.metrics)}")
        if status.present:
            lines.append(f"    found:   {status.message}")
        lines.append(
            f"    source:  {entry.url}" + (f" (file {entry.member} in the zip)" if entry.member else "")
        )
        lines.append(f"    put at:  {root / entry.name}")
        lines.append(f"    sha256:  {entry.sha256 or 'not pinned: ' + entry.note}")
    lines.append(
        f"Fetch them with `float-eval weights fetch --weights-dir {root}` (when online), or point "
        f"--weights-dir or ${WEIGHTS_ENV} at the folder holding them."
    )
    return "\n".join(lines)


class FetchResult(BaseModel):
    """What :func:`fetch_weights` did with one file: ``fetched``, ``present``, ``manual`` or ``failed``."""

    name: str
    outcome: str
    message: str


def _download(url: str, target: Path, opener: Callable[..., Any]) -> None:
    with opener(url) as response, open(target, "wb") as handle:
        shutil.copyfileobj(response, handle, length=1 << 20)


def fetch_weights(
    folder: str | Path | None = None,
    names: list[str] | None = None,
    entries: tuple[WeightFile, ...] | None = None,
    opener: Callable[..., Any] = urllib.request.urlopen,
    log: Callable[[str], None] = lambda message: None,
) -> list[FetchResult]:
    """Download every missing or wrong manifest file (or only ``names``) into the weights folder.

    Each file is written under a hidden temporary name, checked against the manifest (size, sha256 or its
    published prefix) and only then renamed into place; a file that does not match is deleted and reported.
    Files from a zip (insightface's ``buffalo_l.zip``) are extracted from one download. Files without a
    direct download (``download=None``) are reported as ``manual`` with their source.

    Args:
        entries: the manifest to use (default :data:`MANIFEST`; tests pass their own).
        opener: ``urllib.request.urlopen`` or a stand-in (called with the URL, returns a file-like context).
    """
    root = weights_dir(folder)
    root.mkdir(parents=True, exist_ok=True)
    manifest = entries if entries is not None else MANIFEST
    wanted = [e for e in manifest if names is None or e.name in names]
    results: list[FetchResult] = []
    archives: dict[str, Path] = {}
    try:
        for entry in wanted:
            status = _check(entry, root)
            if status.ok:
                results.append(FetchResult(name=entry.name, outcome="present", message=status.message))
                continue
            if entry.download is None:
                results.append(
                    FetchResult(
                        name=entry.name,
                        outcome="manual",
                        message=f"no direct download: get it from {entry.url} "
                        f"and put it at {root / entry.name}",
                    )
                )
                continue
            temp = root / f".{entry.name}.part"
            try:
                if entry.member is None:
                    log(f"downloading {entry.name} from {entry.download}")
                    _download(entry.download, temp, opener)
                else:
                    if entry.download not in archives:
                        archive = root / f".{Path(entry.download.split('?')[0]).name}.part"
                        log(f"downloading {entry.download}")
                        _download(entry.download, archive, opener)
                        archives[entry.download] = archive
                    with zipfile.ZipFile(archives[entry.download]) as zipped:
                        member = next((n for n in zipped.namelist() if Path(n).name == entry.member), None)
                        if member is None:
                            raise ValueError(f"{entry.download} holds no {entry.member}")
                        with zipped.open(member) as src, open(temp, "wb") as dst:
                            shutil.copyfileobj(src, dst, length=1 << 20)
                check = _check_file(entry, temp)
                if not check.ok:
                    raise ValueError(f"the downloaded file is not the manifest's: {check.message}")
                os.replace(temp, root / entry.name)
                digest = check.sha256
                pinned = entry.sha256 is not None or entry.sha256_prefix is not None
                results.append(
                    FetchResult(
                        name=entry.name,
                        outcome="fetched",
                        message=f"sha256 {digest}" + ("" if pinned else " (not pinned: nothing to compare)"),
                    )
                )
            except Exception as err:  # network, HTTP, zip or digest: reported per file, the others go on
                results.append(
                    FetchResult(name=entry.name, outcome="failed", message=f"{entry.download}: {err}")
                )
            finally:
                temp.unlink(missing_ok=True)
    finally:
        for archive in archives.values():
            archive.unlink(missing_ok=True)
    return results
