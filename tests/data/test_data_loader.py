"""``DeviceLoader``: batch shapes, exact augmentation, determinism under (seed, epoch), stats."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from archbench.data import Augment, Dataset, DeviceLoader, default_augment, load_dataset

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def unique_images(count: int = 96, size: int = 16, name: str = "synthetic") -> Dataset:
    """Random images whose label is their index, so every batch item names its source."""
    generator = torch.Generator().manual_seed(11)
    images = torch.randint(0, 256, (count, 3, size, size), generator=generator, dtype=torch.uint8)
    classes = tuple(str(index) for index in range(count))
    return Dataset(name, images, torch.arange(count), classes, MEAN, STD)


def pixels(normalized: torch.Tensor) -> torch.Tensor:
    """Undoes the normalization, back to uint8."""
    mean = torch.tensor(MEAN).view(1, -1, 1, 1)
    std = torch.tensor(STD).view(1, -1, 1, 1)
    return (normalized * std + mean).mul(255).round().to(torch.uint8)


Batch = tuple[torch.Tensor, torch.Tensor]


def batches(loader: DeviceLoader) -> list[Batch]:
    return list(loader)


def test_eval_loader_visits_everything_in_order_unaugmented() -> None:
    ds = unique_images(count=70)
    loader = DeviceLoader(ds, 32, device="cpu", train=False)
    seen = batches(loader)
    assert len(loader) == len(seen) == 3 and [len(y) for _, y in seen] == [32, 32, 6]
    images = torch.cat([x for x, _ in seen])
    assert images.dtype == torch.float32 and images.shape == (70, 3, 16, 16)
    assert torch.equal(torch.cat([y for _, y in seen]), torch.arange(70))
    mean, std = torch.tensor(MEAN).view(1, -1, 1, 1), torch.tensor(STD).view(1, -1, 1, 1)
    expected = (ds.images.float() / 255 - mean) / std
    assert torch.allclose(images, expected, atol=1e-5)


def test_train_loader_shuffles_and_drops_the_incomplete_batch() -> None:
    loader = DeviceLoader(unique_images(count=70), 32, device="cpu", train=True)
    seen = batches(loader)
    assert len(loader) == len(seen) == 2
    labels = torch.cat([y for _, y in seen])
    assert labels.dtype == torch.int64 and len(set(labels.tolist())) == 64
    assert not torch.equal(labels, torch.arange(64))
    assert all(x.shape == (32, 3, 16, 16) and x.dtype == torch.float32 for x, _ in seen)


def test_a_set_smaller_than_a_batch_is_one_batch() -> None:
    loader = DeviceLoader(unique_images(count=10), 32, device="cpu", train=True)
    assert len(loader) == 1 and [len(y) for _, y in loader] == [10]


def test_crop_and_flip_are_reflection_padded_shifts_and_mirrors() -> None:
    ds = unique_images()
    padding = 3
    loader = DeviceLoader(ds, 32, device="cpu", train=True, augment=Augment(padding, True, 0))
    padded = F.pad(ds.images.float(), (padding,) * 4, mode="reflect").to(torch.uint8)
    offsets = [(dy, dx) for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)]
    shifts, flips = set(), 0
    for images, labels in loader:
        for image, label in zip(pixels(images), labels.tolist()):
            crops = {
                offset: padded[label, :, offset[0] :, offset[1] :][:, :16, :16]
                for offset in offsets
            }
            matches = [
                (offset, flip)
                for offset, crop in crops.items()
                for flip in (False, True)
                if torch.equal(image, crop.flip(-1) if flip else crop)
            ]
            assert matches, "every image must be a shifted (and maybe mirrored) source image"
            shifts.add(matches[0][0])
            flips += matches[0][1]
    assert len(shifts) > 10  # many different shifts, not a constant one
    assert 0 < flips < len(ds)  # about half mirrored


def test_flip_only_and_no_augmentation() -> None:
    ds = unique_images()
    flipped = DeviceLoader(ds, 96, device="cpu", train=True, augment=Augment(0, True, 0))
    images, labels = next(iter(flipped))
    source = ds.images[labels]
    mirrored = (pixels(images) == source.flip(-1)).flatten(1).all(1)
    same = (pixels(images) == source).flatten(1).all(1)
    assert (mirrored | same).all() and 0 < int(mirrored.sum()) < len(ds)
    plain = DeviceLoader(ds, 96, device="cpu", train=True, augment=Augment(0, False, 0))
    images, labels = next(iter(plain))
    assert torch.equal(pixels(images), ds.images[labels])


def test_cutout_zeroes_one_clipped_square_per_image() -> None:
    ds = unique_images()
    loader = DeviceLoader(ds, 96, device="cpu", train=True, augment=Augment(0, False, 6))
    images, labels = next(iter(loader))
    unaugmented = torch.cat([x for x, _ in DeviceLoader(ds, 96, device="cpu", train=False)])
    zeros = images.eq(0).all(1)  # (B, H, W): cut out in every channel
    kept = ~zeros[:, None].expand_as(images)
    assert torch.equal(images[kept], unaugmented[labels][kept])
    for mask in zeros:
        rows, columns = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 6 and 1 <= len(columns) <= 6
        assert int(mask.sum()) == len(rows) * len(columns)  # a filled rectangle
        for line in (rows, columns):
            assert line[-1] - line[0] + 1 == len(line)  # contiguous
            assert len(line) == 6 or line[0] == 0 or line[-1] == 15  # clipped only at a border


def test_same_seed_and_epoch_give_the_same_batches() -> None:
    ds = unique_images()

    augment = Augment(crop_padding=2, flip=True, cutout=4)

    def run(seed: int, epochs: int) -> list[list[Batch]]:
        loader = DeviceLoader(ds, 32, device="cpu", train=True, augment=augment, seed=seed)
        return [batches(loader) for _ in range(epochs)]

    def same(a: list[Batch], b: list[Batch]) -> bool:
        return all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))

    first, again = run(0, 2), run(0, 2)
    assert same(first[0], again[0]) and same(first[1], again[1])
    assert not same(first[0], first[1])  # the next pass is the next epoch
    assert not same(first[0], run(1, 1)[0])
    resumed = DeviceLoader(ds, 32, device="cpu", train=True, augment=augment, seed=0)
    resumed.set_epoch(1)
    assert same(batches(resumed), first[1])
    resumed.set_epoch(0)
    assert same(batches(resumed), first[0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_equal_cpu_batches() -> None:
    ds = unique_images()
    augment = Augment(crop_padding=2, flip=True, cutout=4)
    on_cpu = DeviceLoader(ds, 32, device="cpu", train=True, augment=augment, seed=3)
    on_cuda = DeviceLoader(
        ds, 32, device="cuda", train=True, augment=augment, seed=3, channels_last=True
    )
    for (x_cpu, y_cpu), (x_cuda, y_cuda) in zip(on_cpu, on_cuda):
        assert x_cuda.is_cuda and x_cuda.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(y_cpu, y_cuda.cpu())
        assert torch.allclose(x_cpu, x_cuda.cpu(), atol=1e-6)


def test_normalized_training_split_has_zero_mean_and_unit_std() -> None:
    ds = load_dataset("mnist5k", "train")
    images = torch.cat([x for x, _ in DeviceLoader(ds, 1000, device="cpu", train=False)])
    assert abs(images.mean().item()) < 1e-4
    assert abs(images.std(correction=0).item() - 1) < 1e-4


def test_channels_last_when_asked() -> None:
    ds = unique_images()
    images, _ = next(iter(DeviceLoader(ds, 8, device="cpu", train=False, channels_last=True)))
    assert images.is_contiguous(memory_format=torch.channels_last)
    images, _ = next(iter(DeviceLoader(ds, 8, device="cpu", train=False)))
    assert images.is_contiguous()


def test_default_augment_flips_photos_not_digits() -> None:
    assert default_augment("cifar10") == Augment(crop_padding=4, flip=True, cutout=0)
    assert default_augment("fashion_mnist").flip
    for digits in ("mnist", "mnist5k", "digits"):
        assert not default_augment(digits).flip
    loader = DeviceLoader(unique_images(name="digits"), 8, device="cpu", train=True)
    assert loader.augment == default_augment("digits")
    with pytest.raises(ValueError, match="unknown dataset"):
        default_augment("imagenet")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0, "train": True}, "batch_size must be >= 1"),
        ({"train": False, "augment": Augment()}, "training loaders only"),
        ({"train": True, "augment": Augment(crop_padding=16)}, "smaller than the image size 16"),
        ({"train": True, "seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments = {"batch_size": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        DeviceLoader(unique_images(), device="cpu", **arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be >= 0"):
        Augment(cutout=-1)
