"""The built-in model families, registered once.

A new family is one module (its config class, counter, width scaler, decoder, optionally a FLOPs
counter, and a torch builder loaded lazily) plus one ``register_family`` call here, or in that
module itself, imported here, as ``_nb201.py`` does.
"""

from __future__ import annotations

from archbench.models._config import BranchNetConfig, ResNetConfig, VGGConfig
from archbench.models._count import count_branchnet, count_resnet, count_vgg
from archbench.models._count_flops import branchnet_flops, resnet_flops, vgg_flops
from archbench.models._decode import decode_branchnet, decode_resnet, decode_vgg
from archbench.models._family import Family, register_family
from archbench.models._fit import scale_branchnet, scale_resnet, scale_vgg

register_family(
    Family(
        name="resnet",
        config_class=ResNetConfig,
        builder="archbench.models._resnet:ResNet",
        count=count_resnet,
        scale_widths=scale_resnet,
        decode=decode_resnet,
        flops=resnet_flops,
    )
)
register_family(
    Family(
        name="vgg",
        config_class=VGGConfig,
        builder="archbench.models._vgg:VGG",
        count=count_vgg,
        scale_widths=scale_vgg,
        decode=decode_vgg,
        flops=vgg_flops,
    )
)
register_family(
    Family(
        name="branchnet",
        config_class=BranchNetConfig,
        builder="archbench.models._branchnet:BranchNet",
        count=count_branchnet,
        scale_widths=scale_branchnet,
        decode=decode_branchnet,
        flops=branchnet_flops,
    )
)

from archbench.models import _nb201  # noqa: E402, F401  (registers nb201 where it is defined)
