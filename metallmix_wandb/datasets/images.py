"""Read an image classification dataset from disk: a MedMNIST ``.npz`` or a class-per-folder tree.

Everything that can go wrong with a user's files surfaces as a ``DatasetError`` that names the path,
never as a traceback from numpy or PIL.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from metallmix_wandb.datasets.meta_features import (
    MetaFeatureError,
    MetaFeatures,
    compute_meta_features,
    normalise_modality,
)

SPLITS: tuple[str, ...] = ("train", "val", "test")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
_SPLIT_DIR_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


class DatasetError(ValueError):
    """A dataset that cannot be read, with the path and the reason in words."""


@dataclass
class ImageDataset:
    """Images in memory with their labels and split; plain numpy so trainers and meta-features share it."""

    images: np.ndarray  # uint8 (N, H, W, C), C in {1, 3}
    labels: np.ndarray  # int64 (N,)
    split: np.ndarray  # str (N,): 'train' | 'val' | 'test'
    class_names: list[str]
    name: str
    source: str
    n_resized: int = 0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


# --------------------------------------------------------------------------- modality from a name

_MEDMNIST_MODALITY: tuple[tuple[str, str], ...] = (
    ("breastmnist", "US"),
    ("pneumoniamnist", "X-ray"),
    ("chestmnist", "X-ray"),
    ("organamnist", "CT"),
    ("organcmnist", "CT"),
    ("organsmnist", "CT"),
    ("organmnist", "CT"),  # also organmnist3d
    ("nodulemnist", "CT"),
    ("adrenalmnist", "CT"),
    ("fracturemnist", "CT"),
    ("vesselmnist", "MRI"),  # MR angiography
    ("octmnist", "OCT"),
    ("dermamnist", "DMS"),
    ("retinamnist", "other"),  # fundus photographs
    ("pathmnist", "other"),
    ("bloodmnist", "other"),
    ("tissuemnist", "other"),
    ("synapsemnist", "other"),
)
# Matched against the name with separators removed ("chest-x-ray" -> "chestxray").
_KEYWORD_MODALITY: tuple[tuple[str, str], ...] = (
    ("ultrasound", "US"), ("sonograph", "US"), ("busi", "US"),
    ("xray", "X-ray"), ("radiograph", "X-ray"), ("pneumonia", "X-ray"), ("chest", "X-ray"),
    ("mammo", "X-ray"),
    ("dermoscop", "DMS"), ("dermatoscop", "DMS"), ("derma", "DMS"), ("isic", "DMS"), ("ham10000", "DMS"),
    ("skinlesion", "DMS"),
    ("brain", "MRI"), ("mri", "MRI"),
    ("tomograph", "CT"),
    ("retina", "other"), ("fundus", "other"),
)
# Too short to match inside a word: compared with whole tokens only ("liver_ct" -> "ct").
_TOKEN_MODALITY = {"ct": "CT", "us": "US", "oct": "OCT", "mr": "MRI", "cxr": "X-ray", "dms": "DMS"}


def infer_modality(name: str) -> str:
    """Guess the modality category from a dataset name (MedMNIST names first); 'other' if unknown."""
    lower = name.lower()
    compact = re.sub(r"[^a-z0-9]+", "", lower)
    for needle, modality in _MEDMNIST_MODALITY + _KEYWORD_MODALITY:
        if needle in compact:
            return modality
    for token in re.split(r"[^a-z0-9]+", lower):
        if token in _TOKEN_MODALITY:
            return _TOKEN_MODALITY[token]
    return "other"


# --------------------------------------------------------------------------- loading


def load_image_dataset(path: str | Path, *, max_images_per_class: int | None = None) -> ImageDataset:
    """Load a MedMNIST ``.npz`` or a class-per-folder directory (optionally under train/val/test).

    ``max_images_per_class`` keeps the first k images of each class in each split (file order for
    ``.npz``, sorted file names for folders), so small test runs stay deterministic.
    """
    if max_images_per_class is not None and max_images_per_class < 1:
        raise DatasetError(f"max_images_per_class must be at least 1, got {max_images_per_class}")
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError(f"dataset path does not exist: {p}")
    p = p.resolve()
    if p.is_dir():
        return _load_folder(p, max_images_per_class)
    if p.suffix.lower() == ".npz":
        return _load_npz(p, max_images_per_class)
    raise DatasetError(f"{p}: expected a MedMNIST-style .npz file or a class-per-folder directory")


def _cap_per_class(labels: np.ndarray, k: int | None) -> np.ndarray:
    """Indices keeping the first k of each class, in their original order."""
    if k is None:
        return np.arange(labels.shape[0])
    keep = np.zeros(labels.shape[0], dtype=bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:k]] = True
    return np.flatnonzero(keep)


def _npz_images(p: Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise DatasetError(
            f"{p}: '{key}' has shape {arr.shape}; expected (N, H, W), (N, H, W, 1) or (N, H, W, 3) "
            "(3D volumes and other channel counts are not supported)"
        )
    if arr.dtype == np.uint8 or arr.size == 0:
        return arr.astype(np.uint8, copy=False)
    if arr.dtype.kind not in "iuf":
        raise DatasetError(f"{p}: '{key}' has dtype {arr.dtype}; expected uint8 pixels")
    if not np.all(np.isfinite(arr)):
        raise DatasetError(f"{p}: '{key}' contains NaN or infinite pixel values")
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return np.round(arr * 255.0).astype(np.uint8)
    if lo < 0 or hi > 255:
        raise DatasetError(f"{p}: '{key}' pixel values span [{lo}, {hi}]; expected 0..255 (or 0..1 floats)")
    return np.round(arr).astype(np.uint8)


def _npz_labels(p: Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DatasetError(
            f"{p}: '{key}' has shape {arr.shape}; expected (N,) or (N, 1) (multi-label data is not supported)"
        )
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(arr == np.round(arr))):
        raise DatasetError(f"{p}: '{key}' must hold integer class indices, got dtype {arr.dtype}")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise DatasetError(f"{p}: '{key}' holds a negative label ({int(labels.min())})")
    return labels


def _load_npz(p: Path, cap: int | None) -> ImageDataset:
    try:
        archive = np.load(p, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, OSError, ValueError (pickled / not npy), EOFError
        raise DatasetError(f"{p}: not a readable .npz archive ({type(exc).__name__}: {exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{p}: holds a single array, not an .npz archive with train_images/train_labels")
    with archive:
        keys = set(archive.files)
        missing = [k for k in ("train_images", "train_labels") if k not in keys]
        for s in ("val", "test"):
            pair = (f"{s}_images", f"{s}_labels")
            if (pair[0] in keys) != (pair[1] in keys):
                missing.append(pair[1] if pair[0] in keys else pair[0])
        if missing:
            raise DatasetError(f"{p}: missing key(s) {', '.join(missing)}; found {sorted(keys) or 'none'}")
        parts: list[tuple[str, np.ndarray, np.ndarray]] = []
        for s in SPLITS:
            if f"{s}_images" not in keys:
                continue
            try:
                raw_x, raw_y = archive[f"{s}_images"], archive[f"{s}_labels"]
            except Exception as exc:
                raise DatasetError(f"{p}: cannot read split '{s}' ({type(exc).__name__}: {exc})") from exc
            x, y = _npz_images(p, f"{s}_images", raw_x), _npz_labels(p, f"{s}_labels", raw_y)
            if x.shape[0] != y.shape[0]:
                raise DatasetError(
                    f"{p}: {s}_images has {x.shape[0]} images but {s}_labels has {y.shape[0]} labels"
                )
            keep = _cap_per_class(y, cap)
            parts.append((s, x[keep], y[keep]))
    if parts[0][1].shape[0] == 0:
        raise DatasetError(f"{p}: train_images is empty")
    shapes = {x.shape[1:] for _, x, _ in parts if x.shape[0]}
    if len(shapes) > 1:
        raise DatasetError(f"{p}: splits have different image shapes {sorted(shapes)}")
    parts = [(s, x, y) for s, x, y in parts if x.shape[0]]
    labels = np.concatenate([y for _, _, y in parts])
    n_classes = int(labels.max()) + 1
    if np.unique(labels).size < 2:
        raise DatasetError(f"{p}: needs at least 2 classes, found {np.unique(labels).size}")
    return ImageDataset(
        images=np.concatenate([x for _, x, _ in parts]),
        labels=labels,
        split=np.concatenate([np.full(y.shape[0], s, dtype="<U5") for s, _, y in parts]),
        class_names=[str(i) for i in range(n_classes)],
        name=p.stem,
        source=str(p),
    )


def _subdirs(d: Path) -> list[Path]:
    return sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))


def _image_files(d: Path) -> list[Path]:
    return sorted(
        f for f in d.rglob("*")
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
    )


def _split_layout(root: Path) -> dict[str, Path] | None:
    """{split: folder} for a train/val/test tree, None for a plain class-per-folder tree."""
    dirs = _subdirs(root)
    splits = {d: _SPLIT_DIR_ALIASES.get(d.name.lower()) for d in dirs}
    if not dirs or not any(splits.values()):
        return None
    if not all(splits.values()):
        others = [d.name for d, s in splits.items() if s is None]
        raise DatasetError(
            f"{root}: mixes split folders with other folders {others}; use either root/<class>/... "
            "or root/{train,val,test}/<class>/..."
        )
    layout: dict[str, Path] = {}
    for d, s in splits.items():
        if s in layout:
            raise DatasetError(f"{root}: two folders map to split '{s}': {layout[s].name}, {d.name}")
        layout[s] = d  # type: ignore[index]
    if "train" not in layout:
        raise DatasetError(f"{root}: has {sorted(layout)} split folders but no 'train' folder")
    return layout


def _open_image(f: Path) -> Image.Image:
    try:
        with Image.open(f) as im:
            im.load()
            return im.copy()
    except Exception as exc:  # UnidentifiedImageError, OSError (truncated), DecompressionBombError
        raise DatasetError(f"cannot read image file {f} ({type(exc).__name__}: {exc})") from exc


def _to_gray(im: Image.Image) -> Image.Image:
    """8-bit grayscale; 16-bit/float images are min-max scaled rather than clipped."""
    if im.mode in ("1", "L", "LA"):
        return im.convert("L")
    arr = np.asarray(im, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 255:
        return Image.fromarray(np.round(arr).astype(np.uint8))
    scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.round(scaled).astype(np.uint8))


def _load_folder(root: Path, cap: int | None) -> ImageDataset:
    layout = _split_layout(root) or {"train": root}
    class_names = [d.name for d in _subdirs(layout["train"])]
    files: list[tuple[str, int, Path]] = []
    for s in SPLITS:
        if s not in layout:
            continue
        class_dirs = _subdirs(layout[s])
        if not class_dirs:
            if not _image_files(layout[s]):
                raise DatasetError(f"{layout[s]}: folder holds no images")
            raise DatasetError(
                f"{layout[s]}: images lie loose in the folder; expected one subfolder per class, "
                f"{layout[s]}/<class>/*.png"
            )
        for d in class_dirs:
            if d.name not in class_names:
                raise DatasetError(f"{d}: class '{d.name}' appears in split '{s}' but not in train")
            found = _image_files(d)
            if not found:
                raise DatasetError(f"{d}: empty class folder '{d.name}' (no .png/.jpg/.jpeg/.bmp/.tif/.tiff)")
            files.extend((s, class_names.index(d.name), f) for f in found[:cap])
    if len(class_names) < 2:
        raise DatasetError(f"{root}: needs at least 2 classes, found {class_names}")

    pil = [_open_image(f) for _, _, f in files]
    gray = all(im.mode in _GRAY_MODES for im in pil)
    pil = [_to_gray(im) if gray else im.convert("RGB") for im in pil]
    sizes = Counter(im.size for im in pil)
    # Most common (W, H); ties go to the larger image so no split is needlessly downsampled.
    target = max(sizes, key=lambda wh: (sizes[wh], wh[0] * wh[1], wh))
    n_resized = sum(n for wh, n in sizes.items() if wh != target)
    notes: list[str] = []
    if n_resized:
        notes.append(
            f"resized {n_resized} of {len(pil)} images to {target[0]}x{target[1]} (the most common size); "
            f"sizes seen: {', '.join(f'{w}x{h}' for w, h in sorted(sizes))}"
        )
    bilinear = Image.Resampling.BILINEAR
    arrays = [np.asarray(im if im.size == target else im.resize(target, bilinear)) for im in pil]
    images = np.stack(arrays).astype(np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    return ImageDataset(
        images=images,
        labels=np.array([c for _, c, _ in files], dtype=np.int64),
        split=np.array([s for s, _, _ in files], dtype=str),
        class_names=class_names,
        name=root.name,
        source=str(root),
        n_resized=n_resized,
        notes=notes,
    )


# --------------------------------------------------------------------------- meta-features


def dataset_meta_features(ds: ImageDataset, modality: str | None = None) -> MetaFeatures:
    """Meta-features of the training split (all images if there is none), modality inferred by name."""
    labels = ds.labels[ds.split == "train"] if np.any(ds.split == "train") else ds.labels
    chosen = normalise_modality(modality) if modality is not None else infer_modality(ds.name)
    try:
        return compute_meta_features(labels, ds.image_shape[:2], chosen, n_classes=ds.n_classes)
    except MetaFeatureError as exc:
        raise DatasetError(f"{ds.source}: {exc}") from exc
