"""The built-in model families, registered by importing them.

Each family's module holds its whole family (config, counts, width scaler, decoder, presets) and
registers it, and its presets, where it is defined (timm's "register at definition"); its torch
modules are in a ``_net`` module next to it, loaded on first build. The import order below is the
order of ``list_families`` and ``list_presets``.
"""

from __future__ import annotations

# isort: off
from archbench.models import _resnet  # noqa: F401
from archbench.models import _vgg  # noqa: F401
from archbench.models import _branchnet  # noqa: F401
from archbench.models import _nb201  # noqa: F401

# isort: on
