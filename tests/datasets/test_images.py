"""Image data adapter: real MedMNIST files, generated folders, and every error a user can hit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metallmix_wandb.datasets.images import (
    DatasetError,
    ImageDataset,
    dataset_meta_features,
    infer_modality,
    load_image_dataset,
)
from tests.support.require import missing

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _real(name: str) -> Path:
    p = DATA / name
    if not p.is_file():
        missing(f"real MedMNIST file {p}", "expected at ../shared/data from the repo root")
    return p


def _png(path: Path, size: tuple[int, int] = (12, 12), mode: str = "L", value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color: int | tuple[int, int, int] = value if mode == "L" else (value, 0, 255 - value)
    Image.new(mode, size, color).save(path)
    return path


# --------------------------------------------------------------------------- real npz files


def test_breastmnist_npz() -> None:
    ds = load_image_dataset(_real("breastmnist_28.npz"))
    assert isinstance(ds, ImageDataset)
    assert ds.name == "breastmnist_28" and Path(ds.source).is_absolute()
    assert ds.images.shape == (546 + 78 + 156, 28, 28, 1) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (780,)
    assert [int((ds.split == s).sum()) for s in ("train", "val", "test")] == [546, 78, 156]
    assert np.bincount(ds.labels[ds.split == "train"]).tolist() == [147, 399]
    assert ds.class_names == ["0", "1"]

    mf = dataset_meta_features(ds)
    assert mf["modality"] == "US"
    assert mf["n_instances"] == 546.0 and mf["n_classes"] == 2.0
    assert mf["imbalance_ratio"] == pytest.approx(399 / 147)
    p = np.array([147, 399]) / 546
    assert mf["class_entropy"] == pytest.approx(float(-(p * np.log2(p)).sum()))
    assert mf["class_entropy"] == pytest.approx(0.8400, abs=1e-3)
    assert (mf["class_size_min"], mf["class_size_max"], mf["class_size_mean"]) == (147.0, 399.0, 273.0)
    assert mf["class_size_std"] == pytest.approx(126.0)
    assert mf["resolution"] == 28.0
    assert dataset_meta_features(ds, modality="ultra sound")["modality"] == "US"


def test_pneumoniamnist_column_labels() -> None:
    ds = load_image_dataset(_real("pneumoniamnist_balanced_28.npz"))
    assert ds.labels.shape == (2428 + 270 + 468,)
    assert [int((ds.split == s).sum()) for s in ("train", "val", "test")] == [2428, 270, 468]
    assert dataset_meta_features(ds)["modality"] == "X-ray"


def test_npz_cap_per_class_per_split() -> None:
    ds = load_image_dataset(_real("breastmnist_28.npz"), max_images_per_class=10)
    for s in ("train", "val", "test"):
        assert np.bincount(ds.labels[ds.split == s]).tolist() == [10, 10]
    full = load_image_dataset(_real("breastmnist_28.npz"))
    first_train_class0 = full.images[(full.split == "train") & (full.labels == 0)][:10]
    assert np.array_equal(ds.images[(ds.split == "train") & (ds.labels == 0)], first_train_class0)


# --------------------------------------------------------------------------- synthetic npz


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_train_only_rgb_and_column_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (6, 10, 10, 3), dtype=np.uint8)
    y = np.array([[0], [1], [2], [2], [1], [0]])
    p = _npz(tmp_path / "dermamnist_10.npz", train_images=x, train_labels=y)
    ds = load_image_dataset(p)
    assert ds.images.shape == (6, 10, 10, 3) and set(ds.split.tolist()) == {"train"}
    assert ds.class_names == ["0", "1", "2"]
    assert np.array_equal(ds.images, x)
    assert dataset_meta_features(ds)["modality"] == "DMS"


def test_npz_float_pixels_in_unit_range_scaled(tmp_path: Path) -> None:
    x = np.full((2, 4, 4), 0.5, dtype=np.float32)
    ds = load_image_dataset(_npz(tmp_path / "f.npz", train_images=x, train_labels=np.array([0, 1])))
    assert ds.images.dtype == np.uint8 and int(ds.images.max()) == 128


def test_corrupt_npz(tmp_path: Path) -> None:
    p = tmp_path / "broken.npz"
    p.write_bytes(np.random.default_rng(1).bytes(2048))
    with pytest.raises(DatasetError, match="not a readable .npz") as info:
        load_image_dataset(p)
    assert str(p) in str(info.value)


def test_truncated_npz(tmp_path: Path) -> None:
    good = _real("breastmnist_28.npz").read_bytes()
    p = tmp_path / "half.npz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match=str(p)):
        load_image_dataset(p)


def test_npz_missing_keys_named(tmp_path: Path) -> None:
    x = np.zeros((2, 4, 4), np.uint8)
    p = _npz(tmp_path / "m.npz", train_images=x, val_images=x)
    with pytest.raises(DatasetError, match="train_labels") as info:
        load_image_dataset(p)
    assert "val_labels" in str(info.value)


def test_npz_length_mismatch(tmp_path: Path) -> None:
    p = _npz(tmp_path / "n.npz", train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.array([0, 1]))
    with pytest.raises(DatasetError, match="3 images but train_labels has 2"):
        load_image_dataset(p)


def test_npz_one_class_and_multilabel_and_volume(tmp_path: Path) -> None:
    x = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(DatasetError, match="at least 2 classes"):
        load_image_dataset(_npz(tmp_path / "a.npz", train_images=x, train_labels=np.zeros(3, np.int64)))
    with pytest.raises(DatasetError, match="multi-label"):
        load_image_dataset(_npz(tmp_path / "b.npz", train_images=x, train_labels=np.zeros((3, 14))))
    vol = np.zeros((3, 8, 8, 8), np.uint8)
    with pytest.raises(DatasetError, match="3D"):
        load_image_dataset(_npz(tmp_path / "c.npz", train_images=vol, train_labels=np.array([0, 1, 0])))


def test_single_npy_is_not_npz(tmp_path: Path) -> None:
    p = tmp_path / "x.npz"
    with open(p, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(DatasetError, match="single array"):
        load_image_dataset(p)


def test_missing_path_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_dataset(tmp_path / "nope.npz")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DatasetError, match=".npz"):
        load_image_dataset(tmp_path / "x.csv")


# --------------------------------------------------------------------------- folders


def test_class_per_folder_grayscale(tmp_path: Path) -> None:
    root = tmp_path / "brain_tumor_mri"
    for i in range(3):
        _png(root / "glioma" / f"{i}.png", value=10 * i)
    for i in range(2):
        _png(root / "no_tumor" / f"{i}.jpg", value=200)
    (root / "no_tumor" / "notes.txt").write_text("not an image")
    ds = load_image_dataset(root)
    assert ds.images.shape == (5, 12, 12, 1) and ds.images.dtype == np.uint8
    assert ds.class_names == ["glioma", "no_tumor"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert set(ds.split.tolist()) == {"train"}
    assert ds.images[1].max() == 10 and ds.name == "brain_tumor_mri" and ds.n_resized == 0
    mf = dataset_meta_features(ds)
    assert mf["modality"] == "MRI" and mf["imbalance_ratio"] == 1.5 and mf["resolution"] == 12.0


def test_split_layout_mixed_sizes_and_modes(tmp_path: Path) -> None:
    root = tmp_path / "skin"
    for s, n in (("train", 3), ("val", 1), ("test", 1)):
        for c in ("benign", "malignant"):
            for i in range(n):
                _png(root / s / c / f"{i}.png", size=(16, 16), mode="RGB")
    _png(root / "train" / "benign" / "odd.bmp", size=(10, 8), mode="L", value=255)
    ds = load_image_dataset(root)
    assert ds.images.shape == (11, 16, 16, 3)  # one L image forces RGB; 10x8 resized up to 16x16
    assert ds.n_resized == 1 and "to 16x16" in ds.notes[0] and "10x8" in ds.notes[0]
    assert [int((ds.split == s).sum()) for s in ("train", "val", "test")] == [7, 2, 2]
    assert ds.labels[ds.split == "train"].tolist() == [0, 0, 0, 0, 1, 1, 1]
    resized = ds.images[(ds.split == "train")][3]  # "odd.bmp" sorts after 0-2.png in benign
    assert resized.shape == (16, 16, 3) and (resized == 255).all()
    mf = dataset_meta_features(ds)
    assert mf["n_instances"] == 7.0 and mf["imbalance_ratio"] == pytest.approx(4 / 3)


def test_folder_cap_keeps_first_sorted_files(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for c in ("a", "b"):
        for i in range(5):
            _png(root / c / f"{i}.png", value=i)
    ds = load_image_dataset(root, max_images_per_class=2)
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.images[:, 0, 0, 0].tolist() == [0, 1, 0, 1]
    with pytest.raises(DatasetError, match="at least 1"):
        load_image_dataset(root, max_images_per_class=0)


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    root = tmp_path / "d16"
    for c, v in (("a", 1000), ("b", 4000)):
        (root / c).mkdir(parents=True)
        Image.fromarray(np.array([[0, v], [v, v]], dtype=np.uint16)).save(root / c / "x.png")
    ds = load_image_dataset(root)
    assert ds.images.shape == (2, 2, 2, 1)
    assert ds.images[0, :, :, 0].tolist() == [[0, 255], [255, 255]]


def test_empty_class_folder_named(tmp_path: Path) -> None:
    root = tmp_path / "d"
    _png(root / "cats" / "0.png")
    (root / "dogs").mkdir()
    with pytest.raises(DatasetError, match="empty class folder 'dogs'"):
        load_image_dataset(root)


def test_empty_folder_and_loose_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_image_dataset(tmp_path / "empty")
    _png(tmp_path / "loose" / "a.png")
    with pytest.raises(DatasetError, match="subfolder per class"):
        load_image_dataset(tmp_path / "loose")


def test_one_class_rejected(tmp_path: Path) -> None:
    _png(tmp_path / "d" / "only" / "0.png")
    with pytest.raises(DatasetError, match="at least 2 classes"):
        load_image_dataset(tmp_path / "d")


def test_unreadable_image_named(tmp_path: Path) -> None:
    root = tmp_path / "d"
    _png(root / "a" / "0.png")
    bad = root / "b" / "broken.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError, match="broken.png"):
        load_image_dataset(root)


def test_split_layout_errors(tmp_path: Path) -> None:
    _png(tmp_path / "a" / "train" / "x" / "0.png")
    _png(tmp_path / "a" / "cats" / "0.png")
    with pytest.raises(DatasetError, match="mixes split folders"):
        load_image_dataset(tmp_path / "a")
    _png(tmp_path / "b" / "val" / "x" / "0.png")
    with pytest.raises(DatasetError, match="no 'train'"):
        load_image_dataset(tmp_path / "b")
    for c in ("x", "y"):
        _png(tmp_path / "c" / "train" / c / "0.png")
    _png(tmp_path / "c" / "test" / "z" / "0.png")
    with pytest.raises(DatasetError, match="'z' appears in split 'test' but not in train"):
        load_image_dataset(tmp_path / "c")


# --------------------------------------------------------------------------- modality


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("breastmnist_28", "US"), ("BreastMNIST", "US"), ("pneumoniamnist_balanced_28", "X-ray"),
        ("chestmnist", "X-ray"), ("organamnist", "CT"), ("OrganCMNIST_64", "CT"), ("organsmnist", "CT"),
        ("organmnist3d", "CT"), ("octmnist", "OCT"), ("dermamnist_224", "DMS"), ("retinamnist", "other"),
        ("pathmnist", "other"), ("bloodmnist", "other"), ("tissuemnist", "other"),
        ("Brain-Tumor-MRI", "MRI"), ("brain_tumor_dataset", "MRI"), ("chest_xray", "X-ray"),
        ("liver_ct", "CT"), ("busi", "US"), ("my_images", "other"), ("objects", "other"),
    ],
)
def test_infer_modality(name: str, expected: str) -> None:
    assert infer_modality(name) == expected
