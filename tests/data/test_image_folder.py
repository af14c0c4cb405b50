"""Image-folder data sets: folders and archives of real JPEG and PNG files, cache and errors."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from archbench.data import (
    DeviceLoader,
    dataset_info,
    dataset_label,
    default_augment,
    image_folder_info,
    load_dataset,
    split_train_val,
)
from tests.conftest import invoke

CLASSES = ("cat", "dog", "frog")


def make_folder(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    size: int = 8,
    suffix: str = ".png",
    mode: str = "RGB",
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """Writes ``root/<split>/<class>/NNNN<suffix>``: seeded random pixels, class i brighter."""
    rng = np.random.default_rng(0)
    for split, count in (splits or {"train": 6, "test": 2}).items():
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(count):
                shape = (size, size) if mode == "L" else (size, size, 3)
                pixels = rng.integers(0, 80, shape, dtype=np.uint8) + 80 * index
                Image.fromarray(pixels.astype(np.uint8), mode).save(
                    folder / f"{number:04d}{suffix}"
                )
    return root


def pack(folder: Path, archive: Path) -> Path:
    """The folder inside an archive, under one wrapping folder named after it."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as out:
            for path in sorted(folder.rglob("*")):
                out.write(path, f"{folder.name}/{path.relative_to(folder)}")
    else:
        with tarfile.open(archive, "w:gz" if archive.name.endswith("gz") else "w") as out:
            out.add(folder, arcname=folder.name)
    return archive


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_a_folder_reads_with_classes_labels_shape_and_stats(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "pets")
    train = load_dataset(str(root), "train", cache)
    test = load_dataset(str(root), "test", cache)
    assert train.classes == CLASSES and len(train) == 18 and len(test) == 6
    assert train.images.dtype == torch.uint8 and tuple(train.images.shape[1:]) == (3, 8, 8)
    assert train.labels.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    # Class i is 80 * i brighter: the labels follow the folders.
    means = [float(train.images[train.labels == k].float().mean()) for k in range(3)]
    assert means[0] < means[1] < means[2]
    expected = train.images.float().div(255).mean(dim=(0, 2, 3))
    assert train.mean == pytest.approx(expected.tolist(), abs=1e-6)
    assert test.mean == train.mean  # every split is normalized with the training statistics
    info = dataset_info(str(root), cache)
    assert (info.shape, info.num_classes, info.train_size, info.test_size) == ((3, 8, 8), 3, 18, 6)


def test_grey_png_gives_one_channel_and_size_comes_from_the_files(
    tmp_path: Path, cache: Path
) -> None:
    root = make_folder(tmp_path / "grey", size=12, mode="L")
    train = load_dataset(str(root), "train", cache)
    assert tuple(train.images.shape[1:]) == (1, 12, 12)
    assert default_augment(str(root)).crop_padding == 1  # an eighth of the side


@pytest.mark.parametrize("name", ["pets.tar", "pets.tar.gz", "pets.tgz", "pets.zip"])
def test_archives_with_a_wrapping_folder_read_like_the_folder(
    tmp_path: Path, cache: Path, name: str
) -> None:
    root = make_folder(tmp_path / "pets")
    archive = pack(root, tmp_path / name)
    from_folder = load_dataset(str(root), "train", cache)
    from_archive = load_dataset(str(archive), "train", cache)
    assert torch.equal(from_archive.images, from_folder.images)  # PNG: lossless
    assert torch.equal(from_archive.labels, from_folder.labels)
    assert from_archive.classes == CLASSES
    assert dataset_label(str(archive)) == "pets"


def test_jpeg_files_decode_close_to_their_pixels(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "photos", suffix=".jpg", size=16)
    jpeg = load_dataset(str(pack(root, tmp_path / "photos.tar.gz")), "test", cache)
    assert tuple(jpeg.images.shape) == (6, 3, 16, 16)
    with Image.open(root / "test" / "dog" / "0001.jpg") as image:
        first_dog = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
    assert torch.equal(jpeg.images[3], first_dog)


def test_the_cache_is_written_once_and_follows_the_files(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "pets")
    first = image_folder_info(root, cache)
    cache_file = Path(first.cache)
    assert cache_file.parent == cache / "image-folders" and cache_file.is_file()
    written = cache_file.stat().st_mtime_ns
    # A fresh lookup by another spelling of the path finds the cache; nothing is decoded again.
    again = image_folder_info(f"{root}/", cache)
    assert again.cache == first.cache and cache_file.stat().st_mtime_ns == written
    # A changed file is another source: decoded into another cache.
    image = root / "train" / "cat" / "0000.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(image)
    os.utime(image, ns=(1, 1))
    changed = image_folder_info(f"{root}//", cache)
    assert changed.cache != first.cache
    assert json.loads(Path(changed.cache).with_suffix(".json").read_text())["counts"] == {
        "train": [6, 6, 6],
        "test": [2, 2, 2],
    }


def test_a_val_folder_is_the_validation_set(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "pets", splits={"train": 4, "val": 3, "test": 2})
    full = load_dataset(str(root), "train", cache)
    train, val = split_train_val(full, val_fraction=0.5, seed=0)
    assert len(train) == 12 and len(val) == 9  # all of train/, all of val/
    half, same_val = split_train_val(full, val_fraction=0.5, seed=0, subset=0.5)
    assert len(half) == 6 and torch.equal(same_val.images, val.images)
    without = make_folder(tmp_path / "plain", splits={"train": 4, "test": 2})
    train, val = split_train_val(load_dataset(str(without), "train", cache), 0.25, seed=0)
    assert (len(train), len(val)) == (9, 3)  # split from train/, as for every data set
    # What an exported recipe is fitted to: the images training learns from, as split above.
    assert dataset_info(str(root), cache).training_images(0.5) == 12
    assert dataset_info(str(without), cache).training_images(0.25) == 9


def test_a_training_loader_runs_on_a_folder(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "pets", size=16)
    train = load_dataset(str(root), "train", cache)
    images, labels = next(iter(DeviceLoader(train, 4, device="cpu", train=True)))
    assert images.shape == (4, 3, 16, 16) and labels.shape == (4,)


def _remove(path: Path) -> None:
    shutil.rmtree(path)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (
            lambda root: [p.unlink() for p in (root / "train" / "dog").iterdir()],
            "train/dog/ holds no images",
        ),
        (lambda root: _remove(root / "train"), "found no train/ folder (found test/)"),
        (lambda root: _remove(root / "test" / "frog"), "missing from test/: frog"),
        (
            lambda root: (
                (root / "test" / "bird").mkdir()
                or shutil.copy(root / "test" / "cat" / "0000.png", root / "test" / "bird")
            ),
            "only in test/: bird",
        ),
        (
            lambda root: (root / "train" / "cat" / "0003.png").write_bytes(b"\x89PNG garbage"),
            "train/cat/0003.png: corrupt or unreadable image",
        ),
        (
            lambda root: Image.new("RGB", (10, 10)).save(root / "test" / "dog" / "0001.png"),
            "images differ in size: ",
        ),
    ],
    ids=["empty-class", "no-train", "missing-class", "extra-class", "corrupt", "mixed-sizes"],
)
def test_bad_folders_give_one_line(tmp_path: Path, cache: Path, spoil, message: str) -> None:  # type: ignore[no-untyped-def]
    root = make_folder(tmp_path / "pets")
    spoil(root)
    with pytest.raises(ValueError, match=".*") as raised:
        load_dataset(str(root), "train", cache)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_resize_makes_mixed_sizes_one(tmp_path: Path, cache: Path) -> None:
    root = make_folder(tmp_path / "pets")
    Image.new("RGB", (10, 14)).save(root / "test" / "dog" / "0001.png")
    info = image_folder_info(root, cache, resize=8)
    assert info.shape == (3, 8, 8) and info.resize == 8
    # The resized cache serves every later load of the same source.
    assert tuple(load_dataset(str(root), "test", cache).images.shape) == (6, 3, 8, 8)


def test_a_file_that_is_no_archive_is_refused(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a folder or a .tar"):
        load_dataset(str(tmp_path / "notes.txt"), "train", cache)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        load_dataset(str(broken), "train", cache)
    with pytest.raises(ValueError, match="no such folder or archive"):
        load_dataset(str(tmp_path / "absent"), "train", cache)


def test_data_show_lists_classes_counts_shape_and_cache(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "pets", splits={"train": 4, "val": 1, "test": 2})
    archive = pack(root, tmp_path / "pets.zip")
    code, out, err = invoke(
        capsys, "data", "show", str(archive), "--data-dir", str(cache), "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["classes"] == list(CLASSES)
    assert [(row["split"], row["size"]) for row in shown["splits"]] == [
        ("train", 12),
        ("val", 3),
        ("test", 6),
    ]
    assert shown["splits"][0]["shape"] == [3, 8, 8]
    assert Path(shown["image_folder"]["cache"]).is_file()
    code, out, _ = invoke(capsys, "data", "show", str(archive), "--data-dir", str(cache))
    assert code == 0 and all(name in out for name in CLASSES) and "cache: " in out


def test_cli_errors_are_one_line_with_exit_2(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "pets")
    Image.new("RGB", (10, 10)).save(root / "train" / "dog" / "0001.png")
    code, _, err = invoke(capsys, "data", "show", str(root), "--data-dir", str(cache))
    assert code == 2 and "images differ in size" in err and "--resize" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = invoke(
        capsys, "data", "show", str(root), "--data-dir", str(cache), "--resize", "8"
    )
    assert code == 0, err
    (root / "train" / "cat" / "0002.png").write_bytes(b"broken")
    code, _, err = invoke(
        capsys, "train", "simple_cnn", "--dataset", str(root), "--data-dir", str(cache),
        "--epochs", "1", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "train/cat/0002.png: corrupt or unreadable image" in err
    assert len(err.strip().splitlines()) == 1


def test_train_and_predict_take_a_folder(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = pack(make_folder(tmp_path / "pets", size=16), tmp_path / "pets.tar.gz")
    run = tmp_path / "run"
    code, out, err = invoke(
        capsys, "train", "simple_cnn", "--dataset", str(archive), "--data-dir", str(cache),
        "--epochs", "1", "--device", "cpu", "--out", str(run), "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["model"]["num_classes"] == 3 and summary["model"]["input_size"] == 16
    code, _, err = invoke(
        capsys, "predict", str(run / "config.yaml"), "--checkpoint", str(run / "checkpoint.pt"),
        "--dataset", str(archive), "--data-dir", str(cache), "--device", "cpu",
        "--out", str(tmp_path / "p.csv"),
    )  # fmt: skip
    assert code == 0, err
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 6


def test_profile_takes_the_shape_of_a_folder(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(tmp_path / "grey", size=16, mode="L")
    code, out, err = invoke(
        capsys, "profile", "simple_cnn", "--dataset", str(root), "--data-dir", str(cache),
        "--level", "basic", "--device", "cpu", "--json",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads(out)["config"]
    assert (config["num_classes"], config["in_channels"], config["input_size"]) == (3, 1, 16)


def test_search_and_fidelity_studies_are_named_by_the_archive_stem(tmp_path: Path) -> None:
    from archbench.budget import Budget
    from archbench.fidelity import FidelitySettings
    from archbench.search import SearchSettings
    from archbench.search._study import study_name

    archive = str(tmp_path / "photos" / "pets.tar.gz")
    search = SearchSettings(
        space="resnet", budget=Budget(max_params=1_000_000), n_trials=1, dataset=archive
    )
    assert study_name(search) == "resnet-1M-pets"
    fidelity = FidelitySettings(
        space="resnet", budget=Budget(max_params=1_000_000), dataset=archive, samples=4,
        proxy_epochs=(1,), reference_epochs=2,
    )  # fmt: skip
    assert fidelity.study_name == "fidelity-resnet-1M-pets-k4-seed0"
