"""A loader that keeps the whole data set on the training device and augments batches there.

The airbench approach (Jordan, 2024, arXiv:2404.00498): uint8 images are moved to the device once;
every batch is cropped, flipped, converted, normalized and cut out by a few tensor operations on
the whole batch. No DataLoader workers, no PIL, no per-image Python.

Random crops pad by reflection, not with zeros: a network cannot learn the black border as a cue,
reflection commutes with per-channel normalization (so the order of the two does not matter), and
digits, whose borders are already black, are unaffected. The crop and the flip are one pair of
gathers with per-sample source indices, on uint8 pixels, before the float conversion.

All randomness of an epoch is drawn up front from a CPU ``torch.Generator`` seeded by
(seed, epoch): the batches depend on nothing else, not on the device and not on how many batches an
earlier run consumed, so a run resumed at epoch e (``set_epoch(e)``) sees exactly the batches of an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from archbench.data._augment import Augment
from archbench.data._dataset import Dataset

Batch = tuple[torch.Tensor, torch.Tensor]


_NO_AUGMENT = Augment(crop_padding=0, flip=False, cutout=0)


class DeviceLoader:
    """Iterates over ``(images, labels)`` batches of a data set held whole on ``device``.

    Images come out float32 and normalized with the data set's mean and std, labels int64. A
    training loader shuffles and augments, and drops the last incomplete batch when there is at
    least one full one (every step has the same size and batch norm never sees a batch of one;
    shuffling lets other images sit out each epoch). An evaluation loader visits every image once,
    in order, without augmentation.

    Args:
        ds: the data set; its uint8 images are copied to ``device`` once, here.
        batch_size: images per batch.
        device: where the data and the batches live (``"cpu"``, ``"cuda"``, a torch.device).
        train: shuffle and augment (True) or evaluate in order (False).
        augment: training augmentation; None means ``default_augment(ds.name)``. Evaluation
            loaders take none.
        seed: with the epoch, fixes the order and the augmentation of every batch.
        channels_last: return batches in channels-last memory format (faster convolutions with
            tensor cores on CUDA).
    """

    def __init__(
        self,
        ds: Dataset,
        batch_size: int,
        *,
        device: str | torch.device,
        train: bool,
        augment: Augment | None = None,
        seed: int = 0,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if not train and augment is not None:
            raise ValueError("augment applies to training loaders only (train=True)")
        if train and len(ds) == 0:
            raise ValueError(f"{ds.name}: cannot train on an empty data set")
        if train and augment is None:
            from archbench.data._registry import default_augment  # the registry reads files

            augment = default_augment(ds.name)
        self.augment = augment or _NO_AUGMENT
        size = ds.input_size
        if self.augment.crop_padding >= size:
            raise ValueError(
                f"crop_padding must be smaller than the image size {size}, "
                f"got {self.augment.crop_padding}"
            )
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.train = train
        self.seed = seed
        self.channels_last = channels_last
        self._epoch = 0
        self._images = ds.images.to(self.device).contiguous()
        self._labels = ds.labels.to(self.device)
        # The same pixels with each image row as a few wide integers (four int64 for 32 pixels):
        # gathering whole rows then moves 8x fewer elements.
        self._rows = self._images.view(_widest_word(size))
        self._channels = torch.arange(ds.in_channels, device=self.device)
        self._positions = torch.arange(size, device=self.device)
        padding = self.augment.crop_padding
        # Source index of every padded row (or column) under reflection: -1 -> 1, size -> size - 2.
        padded = (torch.arange(size + 2 * padding, device=self.device) - padding).abs()
        self._reflect = torch.where(padded >= size, 2 * (size - 1) - padded, padded)
        # (1, C, 1, 1), so that normalizing is one multiply and one add: x * scale + shift.
        mean = torch.tensor(ds.mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        std = torch.tensor(ds.std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._scale = 1 / (255 * std)
        self._shift = -mean / std

    def __len__(self) -> int:
        count = len(self._labels)
        if self.train:
            return max(1, count // self.batch_size)
        return -(-count // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Makes the next pass epoch ``epoch``; passes otherwise count up from 0 on their own."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch = epoch

    def __iter__(self) -> Iterator[Batch]:
        if not self.train:
            for start in range(0, len(self._labels), self.batch_size):
                stop = start + self.batch_size
                yield self._normalize(self._images[start:stop]), self._labels[start:stop]
            return
        plan = self._plan(self._epoch)
        self._epoch += 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = plan[:, start : start + self.batch_size]
            indices, shift_y, shift_x, flip, cutout_y, cutout_x = batch
            images = self._crop_and_flip(indices, shift_y, shift_x, flip.bool())
            images = self._normalize(images)
            if self.augment.cutout:
                images = self._cut_out(images, cutout_y, cutout_x)
            yield images, self._labels[indices]

    def _plan(self, epoch: int) -> torch.Tensor:
        """The epoch's randomness, drawn on the CPU and moved to the device in one copy.

        Returns:
            (6, N) int64: data set index in visiting order, crop row and column offsets in padded
            coordinates, flip (0 or 1), cutout centre row and column.
        """
        seed = np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(seed))
        count, size = len(self._labels), self._images.shape[-1]
        order = torch.randperm(count, generator=generator)
        padding = self.augment.crop_padding
        shifts = torch.randint(0, 2 * padding + 1, (2, count), generator=generator)
        flip = (torch.rand(count, generator=generator) < 0.5) & self.augment.flip
        centres = torch.randint(0, size, (2, count), generator=generator)
        return torch.cat([order[None], shifts, flip[None].long(), centres]).to(self.device)

    def _crop_and_flip(
        self,
        indices: torch.Tensor,
        shift_y: torch.Tensor,
        shift_x: torch.Tensor,
        flip: torch.Tensor,
    ) -> torch.Tensor:
        """Shuffled, shifted and flipped uint8 images: two gathers, no per-image Python."""
        rows = self._reflect[shift_y[:, None] + self._positions]  # (B, H) source row per output row
        images = self._rows[indices[:, None, None], self._channels[None, :, None], rows[:, None, :]]
        images = images.view(torch.uint8)  # (B, C, H, W) again
        size = images.shape[-1]
        columns = torch.where(flip[:, None], size - 1 - self._positions, self._positions)
        columns = self._reflect[shift_x[:, None] + columns]  # (B, W) source column per output one
        return images.gather(3, columns[:, None, None, :].expand_as(images))

    def _normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 to float32, minus the mean, over the std; channels-last if asked.

        The layout changes on the uint8 batch, a quarter of the bytes of the float one; the
        conversion and the in-place arithmetic keep it.
        """
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images.to(torch.float32).mul_(self._scale).add_(self._shift)

    def _cut_out(
        self, images: torch.Tensor, centre_y: torch.Tensor, centre_x: torch.Tensor
    ) -> torch.Tensor:
        """Zeroes a ``cutout``-sided square per image, clipped at the borders as in the paper."""
        side = self.augment.cutout
        from_top = self._positions - (centre_y[:, None] - side // 2)  # (B, H)
        from_left = self._positions - (centre_x[:, None] - side // 2)  # (B, W)
        in_rows = (from_top >= 0) & (from_top < side)
        in_columns = (from_left >= 0) & (from_left < side)
        return images.masked_fill_(in_rows[:, None, :, None] & in_columns[:, None, None, :], 0.0)


def _widest_word(row_bytes: int) -> torch.dtype:
    """The widest integer type whose size divides a row of ``row_bytes`` uint8 pixels."""
    for dtype in (torch.int64, torch.int32, torch.int16):
        if row_bytes % dtype.itemsize == 0:
            return dtype
    return torch.uint8
