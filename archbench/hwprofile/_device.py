"""Devices: choosing one, synchronizing it, naming it, and NVML for the GPU's own view of memory.

CUDA work is asynchronous, so every clock read around GPU work needs a synchronize first
(timm's ``benchmark.py`` syncs at the end of each step). NVML (the official ``nvidia-ml-py``,
module ``pynvml``) is optional: the package may be missing, and on a machine without the NVIDIA
driver ``nvmlInit`` raises ``NVMLError_LibraryNotFound``. Either way the profile carries on and
names the NVML figures unavailable with that reason.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

from archbench.hwprofile._result import Unavailable


def parse_device(spec: str) -> tuple[str, int | None]:
    """The kind (``auto``, ``cpu`` or ``cuda``) and index of a device spec, without touching CUDA.

    Raises:
        ValueError: for anything but ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """
    match = re.fullmatch(r"(?P<kind>auto|cpu|cuda)(?::(?P<index>[0-9]+))?", spec.strip().lower())
    if not match or (match["index"] and match["kind"] != "cuda"):
        raise ValueError(f"device: {spec!r} is not a device; write auto, cpu, cuda or cuda:N")
    return match["kind"], int(match["index"]) if match["index"] else None


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        ValueError: for anything else, or a CUDA device this machine does not have.
    """
    kind, index = parse_device(spec)
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device: {spec!r} needs CUDA, but torch.cuda.is_available() is False on this "
            "machine; use --device cpu (or auto)"
        )
    index = index if index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device: {spec!r} does not exist; this machine has {torch.cuda.device_count()} "
            f"CUDA device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    return torch.device("cuda", index)


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work; a no-op on CPU, whose ops run synchronously."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# The GPU memory that tensors do not show, as the memory prediction allows for it
# (``_predict.py`` says where the figures come from; uncalibrated).
CUDA_CONTEXT_BYTES = 768 * 2**20  # CUDA context, cuDNN/cuBLAS modules and handles
ALLOCATOR_OVERHEAD = 1.10  # reserved / allocated: block rounding, fragmentation, workspaces


def limit_memory(device: torch.device, limit_bytes: int) -> None:
    """Caps this process's caching allocator on ``device`` as if the card had ``limit_bytes``.

    A card of that size loses its CUDA context's share before any tensor is allocated, so the
    allocator gets ``limit_bytes`` less ``CUDA_CONTEXT_BYTES``, the allowance the prediction
    assumes (``torch.cuda.set_per_process_memory_fraction``).

    Raises:
        ValueError: on a non-CUDA device, or for a limit not below the device's memory.
    """
    if device.type != "cuda":
        raise ValueError(
            f"memory_limit: emulates a smaller GPU with CUDA's allocator; {device} is no CUDA "
            "device (use --memory to predict for a GPU size instead)"
        )
    total = torch.cuda.get_device_properties(device).total_memory
    if not CUDA_CONTEXT_BYTES < limit_bytes <= total:
        raise ValueError(
            f"memory_limit: must be above the CUDA context allowance ({CUDA_CONTEXT_BYTES} "
            f"bytes) and at most the device's {total} bytes, got {limit_bytes}"
        )
    torch.cuda.set_per_process_memory_fraction((limit_bytes - CUDA_CONTEXT_BYTES) / total, device)


def device_name(device: torch.device) -> str:
    """The GPU's marketing name, or the CPU model from ``/proc/cpuinfo``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


class NvmlDevice:
    """An NVML session for one CUDA device: device memory used, driver version and clocks.

    The handle is looked up by the device's UUID, then its PCI bus id, never its index, because
    CUDA and NVML number devices differently when ``CUDA_VISIBLE_DEVICES`` reorders or hides
    some. A MIG slice is found by its ``MIG-`` UUID; NVML reads the slice's own memory there,
    and where it cannot find the slice the figures are unavailable with that reason rather
    than read from the whole card.

    Raises:
        Unavailable: when ``pynvml`` is not installed, NVML cannot start (no driver), or the
            device is unknown to NVML; the message is the reason to record.
    """

    def __init__(self, device: torch.device) -> None:
        try:
            import pynvml
        except ImportError:
            raise Unavailable(
                "NVML: nvidia-ml-py (module pynvml) is not installed; pip install nvidia-ml-py"
            ) from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise Unavailable(f"NVML could not start: {exc}") from None
        self._nvml = pynvml
        properties = torch.cuda.get_device_properties(device)
        try:
            self._handle = nvml_handle(
                pynvml, nvml_uuids(str(properties.uuid)), pci_bus_id(properties)
            )
        except LookupError as exc:
            self.close()
            mig = " (a MIG slice: NVML figures are unavailable on MIG)" if _is_mig() else ""
            raise Unavailable(f"NVML does not know {device}{mig}: {exc}") from None

    def used_bytes(self) -> int:
        """Device memory in use by every process, as nvidia-smi shows it.

        Raises:
            Unavailable: when NVML cannot read it (some virtual GPUs, a driver gone bad).
        """
        try:
            return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)
        except self._nvml.NVMLError as exc:
            raise Unavailable(f"NVML could not read the device memory in use: {exc}") from None

    def stamp(self) -> dict[str, Any]:
        """Driver version and SM clocks: boost, thermals and power caps move timings.

        A query the GPU does not support (some virtual GPUs and MIG slices) is recorded as None.
        """
        nvml, handle = self._nvml, self._handle
        queries = {
            "driver": nvml.nvmlSystemGetDriverVersion,
            "sm_clock_mhz": lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
            "max_sm_clock_mhz": lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
        }
        stamp: dict[str, Any] = {}
        for name, query in queries.items():
            try:
                stamp[name] = query()
            except nvml.NVMLError:
                stamp[name] = None
        return stamp

    def process_ids(self) -> list[int]:
        """Ids of the processes running compute work on the device, ours included (empty
        where NVML cannot list them: some virtual GPUs, containers without the host's pids)."""
        try:
            processes = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except self._nvml.NVMLError:
            return []
        return [int(process.pid) for process in processes]

    def close(self) -> None:
        """Ends the session; a failing shutdown (driver gone) must not mask the caller's error."""
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()

    def __enter__(self) -> NvmlDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def nvml_uuids(uuid: str) -> list[str]:
    """The NVML UUIDs a CUDA device's ``uuid`` may stand for: torch prints it bare; NVML
    prefixes ``GPU-`` for a card and ``MIG-`` for a MIG slice (tried second, or first when
    ``CUDA_VISIBLE_DEVICES`` names MIG slices)."""
    if not uuid:
        return []
    if uuid.startswith(("GPU-", "MIG-")):
        return [uuid]
    candidates = [f"GPU-{uuid}", f"MIG-{uuid}"]
    return candidates[::-1] if _is_mig() else candidates


def _is_mig() -> bool:
    return "MIG-" in os.environ.get("CUDA_VISIBLE_DEVICES", "")


def pci_bus_id(properties: Any) -> str | None:
    """``DDDDDDDD:BB:DD.0`` from torch's PCI fields (torch >= 2.5), as NVML spells it."""
    bus = getattr(properties, "pci_bus_id", None)
    if bus is None:
        return None
    domain = getattr(properties, "pci_domain_id", 0)
    device = getattr(properties, "pci_device_id", 0)
    return f"{domain:08x}:{bus:02x}:{device:02x}.0"


def nvml_handle(nvml: Any, uuids: list[str], bus_id: str | None) -> Any:
    """The NVML handle of the first UUID NVML knows, else of the PCI bus id ``bus_id``.

    Needs no CUDA: a process that must not create a CUDA context (a baseline reading) passes
    the identifiers another process read from torch.

    Raises:
        LookupError: naming every identifier tried.
    """
    tried = []
    for uuid in uuids:
        try:
            return nvml.nvmlDeviceGetHandleByUUID(uuid)
        except nvml.NVMLError as exc:
            tried.append(f"{uuid}: {exc}")
    if bus_id is not None and not _is_mig():  # a MIG slice's bus id is the whole card's
        try:
            return nvml.nvmlDeviceGetHandleByPciBusId(bus_id)
        except nvml.NVMLError as exc:
            tried.append(f"PCI {bus_id}: {exc}")
    raise LookupError("; ".join(tried) or "torch gives no UUID or PCI bus id")
