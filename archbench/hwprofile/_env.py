"""The environment stamp every profile carries, and result file names built from it.

A number without its hardware, versions and settings cannot be compared (airbench and nanoGPT
report every figure with them). The stamp records what changes timings and memory: device and
driver, torch/CUDA/cuDNN versions, precision, memory format, compile, TF32 and
``cudnn.benchmark`` (timm turns both on), allocator settings, thread counts and batch size, and
where it ran: the host, and the Ray node when a Ray worker measured it.
File names follow timm's ``results/`` convention (task, precision, layout, torch and CUDA
versions, device), e.g. ``profile-train-fp32-nchw-pt2.14-cpu-resnet18_cifar.json``.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
from typing import Any

import torch

import archbench
from archbench.hwprofile._device import device_name


def precision_name(amp: str | None) -> str:
    """``fp32``, or ``amp_bf16`` / ``amp_fp16`` for mixed precision."""
    return f"amp_{amp}" if amp else "fp32"


def environment_stamp(
    device: torch.device,
    *,
    batch_size: int | None,
    amp: str | None,
    channels_last: bool,
    compile: bool,
    optimizer: str,
    level: str,
) -> dict[str, Any]:
    """What the figures of a profile depend on, as plain JSON-ready values.

    NVML's driver version and clocks are added by the caller when NVML is available.
    """
    env: dict[str, Any] = {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "archbench": archbench.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cpu_count": os.cpu_count(),
        "batch_size": batch_size,
        "precision": precision_name(amp),
        "memory_format": "nhwc" if channels_last else "nchw",
        "compile": compile,
        "optimizer": optimizer,
        "level": level,
        "host": socket.gethostname(),
        **_ray_node(),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        env.update(
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            gpu_memory_bytes=properties.total_memory,
            capability=f"{properties.major}.{properties.minor}",
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32,
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            alloc_conf=os.environ.get("PYTORCH_ALLOC_CONF")
            or os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
            cuda_module_loading=os.environ.get("CUDA_MODULE_LOADING"),
        )
    return env


def _ray_node() -> dict[str, str]:
    """``ray_node_id`` inside a Ray worker or driver; empty otherwise.

    Ray is looked up only where the process already imported it, so profiling never imports Ray.
    """
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return {}
    return {"ray_node_id": ray.get_runtime_context().get_node_id()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-")


def result_filename(
    env: dict[str, Any], model: str, *, kind: str = "profile", suffix: str = ".json"
) -> str:
    """``{kind}-train-{precision}-{layout}-pt{X.Y}[-cu{XY}-{gpu}|-cpu][-compiled]-{model}{suffix}``."""
    torch_version = ".".join(str(env["torch"]).split("+")[0].split(".")[:2])
    if str(env["device"]).startswith("cuda"):
        gpu = _slug(re.sub(r"(?i)\b(nvidia|geforce|tesla)\b", "", str(env["device_name"])))
        device = f"cu{str(env['cuda']).replace('.', '')}-{gpu}"
    else:
        device = "cpu"
    parts = [kind, "train", env["precision"], env["memory_format"], f"pt{torch_version}", device]
    if env["compile"]:
        parts.append("compiled")
    return "-".join([*parts, _slug(model)]) + suffix
