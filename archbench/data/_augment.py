"""Training augmentation: what ``DeviceLoader`` does to each batch, and what a data set suits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Augment:
    """Training augmentation, applied per batch on the device.

    Attributes:
        crop_padding: pixels of reflection padding on each side before a random crop back to the
            original size, i.e. random shifts of up to this many pixels; 0 disables it.
        flip: random horizontal flips with probability 1/2 (wrong for digits: a mirrored 3 is no
            digit).
        cutout: side of a square zeroed (set to the mean colour, after normalization) at a random
            centre in every image (DeVries and Taylor, 2017, arXiv:1708.04552); 0 disables it.
    """

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {self.crop_padding}")
        if self.cutout < 0:
            raise ValueError(f"cutout must be >= 0, got {self.cutout}")
