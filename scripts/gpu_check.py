"""One-shot check of archbench's CUDA paths on a fresh GPU machine: ``make gpu-check``.

The machines it targets have Python 3.12 with torch, torchvision, numpy, scipy, scikit-learn,
matplotlib, rich, typer, pyyaml and nvidia-ml-py, and no package registry. ``make gpu-wheels``
(run where a registry is reachable) downloads the other packages archbench and its tests import
into ``.whl/``; this script installs them with ``pip install --no-index --no-deps --target``
into a temporary folder, never touching torch, and runs archbench from this checkout through
``PYTHONPATH``.

Steps, each in its own process under its own time limit (so one slow step cannot eat the rest;
a step cut short keeps what it wrote):

1. env: GPU, memory, driver, torch and CUDA versions.
2. tests: the ``cuda``-marked tests, then the quick suite (``-m "not slow and not ray"``) with
   CUDA visible, so every ``device=auto`` path takes CUDA.
3. memory: measured max batch (``--max-batch``) under an emulated 24 GiB card against the
   prediction for 24 GiB, allocated and reserved peaks at batch 128 against the predicted peak,
   and the CUDA allowance fitted from them (``CUDA_CONTEXT_BYTES``, ``ALLOCATOR_OVERHEAD`` in
   ``archbench/hwprofile/_predict.py`` are then updated by hand).
4. search: 4 trials of the resnet space under 5M on mnist5k on CUDA, one process per trial,
   through the ``archbench search`` CLI; GPU memory back to its baseline (NVML); per-trial
   overhead (spawn, imports, CUDA init, data load) against training.
5. throughput: archbench's trainer against a minimal hand-written loop on synthetic
   CIFAR-shaped data (50k images on the device), at fp32/contiguous, bf16/channels_last and
   bf16/channels_last/compile, for resnet_5m and airbench94_like. Goal: >= 0.95x.

Writes ``OUT/summary.json`` (one file per step beside it) and prints a one-screen table last.

    python scripts/gpu_check.py [--out gpu-check] [--dry-run] [--list-wheels]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WHEELS_DIR = REPO / ".whl"
# What archbench and its tests import that the GPU machines lack (see the module docstring),
# with the dependencies of those that the machines lack too. ``make gpu-wheels`` downloads them.
WHEELS = (
    "optuna",
    "alembic",
    "sqlalchemy",
    "mako",
    "colorlog",
    "tqdm",
    "mlxtend",
    "pytest",
    "pluggy",
    "iniconfig",
    "packaging",  # pytest needs >= 22; the machine's may be older
    "typing_extensions",  # alembic needs >= 4.12; the machine's may be older
)
GIB = 2**30
EMULATED_CARD = 24 * GIB
MEMORY_MODELS = ("resnet18_cifar", "resnet_5m", "vgg16_cifar", "branchnet_cifar")
THROUGHPUT_MODELS = ("resnet_5m", "airbench94_like")
THROUGHPUT_SETTINGS = (  # (name, amp, memory_format, compile)
    ("fp32/contiguous", "none", "contiguous", False),
    ("bf16/channels_last", "bf16", "channels_last", False),
    ("bf16/channels_last/compile", "bf16", "channels_last", True),
)
THROUGHPUT_BATCH = 512
THROUGHPUT_IMAGES = 50_000  # CIFAR-10's training split
SEARCH_TRIALS = 4
DEVICE = "cuda"  # the steps' device; a CPU smoke run of the step code sets "cpu"


@dataclass(frozen=True)
class Step:
    name: str
    limit_s: int
    summary: str


STEPS = (
    Step("env", 15, "GPU, memory, driver, torch and CUDA versions"),
    Step("tests", 115, "cuda-marked tests, then the quick suite with CUDA visible"),
    Step("memory", 110, "max batch under an emulated 24 GiB card vs prediction; allowance fit"),
    Step("search", 75, "4-trial CUDA search, process isolation; memory baseline; overhead"),
    Step("throughput", 130, "trainer vs hand loop, 2 models x 3 settings, images/s"),
)
INSTALL_LIMIT_S = 25  # the whole check: 25 + the steps' limits = 470 s, under 8 minutes


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pinned_wheels() -> list[str]:
    """``name==version`` of each wheel, at the version installed here (tested with it)."""
    pins = []
    for name in WHEELS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def missing_wheels(folder: Path = WHEELS_DIR) -> list[str]:
    """The names of ``WHEELS`` without a CPython 3.12 x86_64 Linux wheel in ``folder``."""
    present = set()
    for wheel in folder.glob("*.whl") if folder.is_dir() else ():
        name, _version, tags = wheel.stem.split("-", 2)
        python, abi, platform = tags.rsplit("-", 2) if tags.count("-") >= 2 else ("", "", "")
        if ("py3" in python or "cp312" in python) and (
            platform == "any" or ("linux" in platform and "x86_64" in platform)
        ):
            present.add(_normalized(name))
    return [name for name in WHEELS if _normalized(name) not in present]


def install_wheels(folder: Path, target: Path) -> None:
    """Installs the wheels of ``folder`` into ``target`` without an index or dependencies, so
    torch is never touched. Without pip, wheels are unpacked: for these packages that is all an
    install does."""
    wheels = sorted(folder.glob("*.whl"))
    has_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if has_pip.returncode == 0:
        command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "-q"]
        subprocess.run(
            [*command, "--target", str(target), *map(str, wheels)],
            check=True,
            timeout=INSTALL_LIMIT_S,
        )
        return
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)


# --------------------------------------------------------------------------------------------
# Steps: each runs in its own process (``--step NAME``) and writes OUT/NAME.json as it goes.


def _write(out: Path, name: str, data: dict[str, Any]) -> None:
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))


def step_env(out: Path) -> None:
    import torch

    from archbench.hwprofile import NvmlDevice, Unavailable

    device = torch.device("cuda", 0)
    properties = torch.cuda.get_device_properties(device)
    env: dict[str, Any] = {
        "gpu": properties.name,
        "gpu_count": torch.cuda.device_count(),
        "memory_gib": round(properties.total_memory / GIB, 2),
        "capability": f"{properties.major}.{properties.minor}",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "bf16_native": torch.cuda.is_bf16_supported(including_emulation=False),
        "python": sys.version.split()[0],
    }
    try:
        with NvmlDevice(device) as nvml:
            env.update(nvml.stamp())
    except Unavailable as exc:
        env["driver"] = f"unavailable: {exc}"
    _write(out, "env", env)


# The folders whose code has CUDA paths run first: a suite cut at its limit has covered them.
_FIRST_TESTS = ("hwprofile", "train", "search", "data")


def _test_folders() -> list[str]:
    folders = sorted(path.name for path in (REPO / "tests").iterdir() if path.is_dir())
    ordered = [name for name in _FIRST_TESTS if name in folders]
    ordered += [name for name in folders if name not in ordered and not name.startswith("_")]
    return [f"tests/{name}" for name in ordered]


def _pytest(out: Path, name: str, marker: str, limit_s: float) -> dict[str, Any]:
    """Runs pytest verbosely into a log, so that outcomes survive a cut; counts them."""
    log = out / f"pytest-{name}.log"
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", marker]
    command += _test_folders()
    with open(log, "w") as handle:
        try:
            subprocess.run(
                command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, timeout=limit_s
            )
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
    text = log.read_text()
    counts = {
        outcome.lower(): len(re.findall(rf"::\S+ {outcome}", text))
        for outcome in ("PASSED", "FAILED", "ERROR", "SKIPPED")
    }
    failures = re.findall(r"^(tests/\S+) (?:FAILED|ERROR)", text, flags=re.MULTILINE)
    return {**counts, "timed_out": timed_out, "failures": failures[:20], "log": str(log)}


def step_tests(out: Path) -> None:
    results: dict[str, Any] = {}
    results["cuda"] = _pytest(out, "cuda", "cuda", 35)
    _write(out, "tests", results)
    results["quick"] = _pytest(out, "quick", "not slow and not ray and not cuda", 75)
    _write(out, "tests", results)


_CONTEXT_PROBE = """
import json, os, pynvml
pynvml.nvmlInit()
handle = pynvml.nvmlDeviceGetHandleByIndex(0)  # the check's machines have one GPU
before = pynvml.nvmlDeviceGetMemoryInfo(handle).used  # no CUDA in this process yet
import torch
x = torch.randn(64, 3, 32, 32, device="cuda", requires_grad=True)
torch.nn.functional.conv2d(x, torch.randn(64, 3, 3, 3, device="cuda")).sum().backward()
(torch.randn(512, 512, device="cuda") @ torch.randn(512, 512, device="cuda")).sum().item()
torch.cuda.synchronize()
mine = [p.usedGpuMemory for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        if p.pid == os.getpid()]  # empty where the container's pids differ from the host's
print(json.dumps({
    "process_bytes": mine[0] if mine else None,
    "device_delta_bytes": pynvml.nvmlDeviceGetMemoryInfo(handle).used - before,
    "reserved_bytes": torch.cuda.memory_reserved(),
}))
"""


def _context_bytes() -> dict[str, Any]:
    """What a fresh process holds on the GPU beyond its tensors, after a conv and a matmul
    (the CUDA context, cuDNN and cuBLAS modules and workspaces): NVML's per-process figure, or
    the device's growth where NVML cannot tell processes apart, less torch's reserved bytes."""
    result = subprocess.run(
        [sys.executable, "-c", _CONTEXT_PROBE], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:]}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    held = figures["process_bytes"] or figures["device_delta_bytes"]
    figures["context_bytes"] = held - figures["reserved_bytes"]
    return figures


def step_memory(out: Path) -> None:
    from archbench.hwprofile import (
        ALLOCATOR_OVERHEAD,
        CUDA_CONTEXT_BYTES,
        TrainStepSimulation,
        profile_model,
    )
    from archbench.models import get_preset

    results: dict[str, Any] = {
        "emulated_card_bytes": EMULATED_CARD,
        "code": {
            "cuda_context_bytes": CUDA_CONTEXT_BYTES,
            "allocator_overhead": ALLOCATOR_OVERHEAD,
        },
        "context": _context_bytes(),
        "models": [],
    }
    _write(out, "memory", results)
    for name in MEMORY_MODELS:
        cfg = get_preset(name)
        started = time.perf_counter()
        profile = profile_model(
            cfg,
            device=DEVICE,
            batch_size=128,
            level="basic",
            memory=EMULATED_CARD,
            memory_limit=EMULATED_CARD,
            max_batch=True,
        )
        measured, predicted = profile.max_batch_size, profile.predicted_max_batch_size
        row: dict[str, Any] = {
            "model": name,
            "measured_max_batch": measured,
            "predicted_max_batch": predicted,
            "error_pct": 100 * (predicted - measured) / measured
            if measured and predicted
            else None,
            "peak_allocated_bytes": profile.peak_train_memory_bytes,
            "peak_reserved_bytes": profile.peak_train_reserved_bytes,
            "predicted_peak_bytes": profile.predicted_train_memory_bytes,
            "device_used_bytes": profile.peak_train_device_used_bytes,
            "unavailable": {k: v for k, v in profile.unavailable.items() if "max_batch" in k},
        }
        if measured:
            # The allocator had EMULATED_CARD - CUDA_CONTEXT_BYTES; the overhead that would have
            # predicted exactly this batch: the allocator's cap over the predicted tensor peak.
            peak_at_measured = TrainStepSimulation(cfg).predict(measured).total
            row["predicted_peak_at_measured_bytes"] = peak_at_measured
            row["exact_overhead"] = (EMULATED_CARD - CUDA_CONTEXT_BYTES) / peak_at_measured
        row["seconds"] = time.perf_counter() - started
        results["models"].append(row)
        _write(out, "memory", results)
    fits = [row["exact_overhead"] for row in results["models"] if "exact_overhead" in row]
    ratios = [
        row["peak_reserved_bytes"] / row["peak_allocated_bytes"]
        for row in results["models"]
        if row["peak_reserved_bytes"] and row["peak_allocated_bytes"]
    ]
    results["fitted"] = {
        "cuda_context_bytes": results["context"].get("context_bytes"),
        # the smallest overhead that would have predicted every model's batch at or below it
        "allocator_overhead": max(fits) if fits else None,
        "allocator_overhead_per_model": fits,
        "reserved_over_allocated_at_128": ratios,
    }
    _write(out, "memory", results)


def _nvml_used() -> int | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(0)).used)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing or failing: the figure is unavailable, not the step
        return None


def step_search(out: Path) -> None:
    """Through the CLI (the search core's internals may change; its command line stays)."""
    baseline = _nvml_used()  # this process never touches CUDA
    storage = f"sqlite:///{out / 'search.db'}"
    command = [
        sys.executable, "-c", "from archbench.cli import main; main()", "search",
        "--space", "resnet", "--max-params", "5M", "--trials", str(SEARCH_TRIALS),
        "--epochs", "2", "--dataset", "mnist5k", "--device", DEVICE, "--isolation", "process",
        "--profile", "none", "--storage", storage, "--study", "gpu-check", "--seed", "0",
        "--fresh", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    results: dict[str, Any] = {}
    try:
        run = subprocess.run(command, capture_output=True, text=True, cwd=out, timeout=68)
    except subprocess.TimeoutExpired:
        results["timed_out"] = True
    else:
        results["returncode"] = run.returncode
        results["stderr_tail"] = run.stderr.strip().splitlines()[-5:]
        if run.returncode == 0:
            results["summary"] = json.loads(run.stdout)
    results["seconds"] = time.perf_counter() - started
    time.sleep(1.0)  # let the driver account the last child's exit
    after = _nvml_used()
    results["nvml_used_before_bytes"], results["nvml_used_after_bytes"] = baseline, after
    if baseline is not None and after is not None:
        results["memory_back_to_baseline"] = after - baseline <= 64 * 2**20
    results["trials"] = _trial_overheads(storage)
    _write(out, "search", results)


def _trial_overheads(storage: str) -> list[dict[str, Any]]:
    """Per trial: wall seconds (Optuna's start to complete) and training seconds (the epochs'
    own); the difference is the per-trial overhead of its process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for trial in optuna.load_study(study_name="gpu-check", storage=storage).trials:
        if trial.datetime_complete is None or trial.datetime_start is None:
            continue
        wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        metrics = trial.user_attrs.get("metrics") or []
        training = sum(m.get("seconds", 0.0) for m in metrics)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "wall_seconds": wall,
                "training_seconds": training,
                "overhead_seconds": wall - training if metrics else None,
            }
        )
    return rows


def _synthetic_cifar(count: int) -> Any:
    import torch

    from archbench.data import Dataset

    generator = torch.Generator().manual_seed(0)
    return Dataset(
        name="synthetic_cifar",
        images=torch.randint(0, 256, (count, 3, 32, 32), generator=generator, dtype=torch.uint8),
        labels=torch.randint(0, 10, (count,), generator=generator),
        classes=tuple(str(i) for i in range(10)),
        mean=(0.49, 0.48, 0.45),
        std=(0.25, 0.24, 0.26),
    )


def _hand_loop(cfg: Any, data: Any, amp: str, memory_format: str, compile: bool) -> float:
    """The minimal loop: same model, optimizer, precision and layout; batches gathered from
    the normalized images on the device. Images/s of the second epoch."""
    import torch
    from torch import nn

    from archbench.hwprofile._device import synchronize
    from archbench.models import build_model
    from archbench.train._loop import cuda_training_flags

    device = torch.device(DEVICE)
    layout = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    mean = torch.tensor(data.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, 3, 1, 1)
    images = data.images.to(device)
    labels = data.labels.to(device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).to(memory_format=layout)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    forward = torch.compile(model) if compile else model
    criterion = nn.CrossEntropyLoss()
    dtype = torch.bfloat16 if amp == "bf16" else None
    steps = len(images) // THROUGHPUT_BATCH
    seconds = 0.0
    with cuda_training_flags(device):
        for _epoch in range(2):
            order = torch.randperm(len(images), device=device)
            synchronize(device)
            started = time.perf_counter()
            for step in range(steps):
                index = order[step * THROUGHPUT_BATCH : (step + 1) * THROUGHPUT_BATCH]
                batch = ((images[index].float() / 255 - mean) / std).contiguous(
                    memory_format=layout
                )
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = criterion(forward(batch), labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            synchronize(device)
            seconds = time.perf_counter() - started
    return steps * THROUGHPUT_BATCH / seconds


def _trainer(cfg: Any, data: Any, val: Any, amp: str, memory_format: str, compile: bool) -> float:
    from archbench.data import Augment
    from archbench.train import TrainRecipe, train_model

    recipe = TrainRecipe(
        optimizer="sgd_nesterov",
        lr=0.05,
        batch_size=THROUGHPUT_BATCH,
        epochs=2,
        schedule="none",
        augmentation=Augment(crop_padding=0, flip=False, cutout=0),
        amp=amp,  # type: ignore[arg-type]
        memory_format=memory_format,  # type: ignore[arg-type]
        compile=compile,
    )
    result = train_model(cfg, recipe, train_data=data, val_data=val, device=DEVICE)
    return float(result.history[-1]["images_per_second"])


def step_throughput(out: Path) -> None:
    from archbench.models import get_preset

    data, val = _synthetic_cifar(THROUGHPUT_IMAGES), _synthetic_cifar(1_000)
    rows: list[dict[str, Any]] = []
    for compile_pass in (False, True):  # every eager row first: compiles are the slow ones
        for model in THROUGHPUT_MODELS:
            for setting, amp, memory_format, compile in THROUGHPUT_SETTINGS:
                if compile != compile_pass:
                    continue
                cfg = get_preset(model)
                trainer = _trainer(cfg, data, val, amp, memory_format, compile)
                hand = _hand_loop(cfg, data, amp, memory_format, compile)
                rows.append(
                    {
                        "model": model,
                        "setting": setting,
                        "trainer_images_per_second": trainer,
                        "hand_images_per_second": hand,
                        "ratio": trainer / hand,
                    }
                )
                _write(out, "throughput", {"batch_size": THROUGHPUT_BATCH, "rows": rows})


STEP_FUNCTIONS: dict[str, Callable[[Path], None]] = {
    "env": step_env,
    "tests": step_tests,
    "memory": step_memory,
    "search": step_search,
    "throughput": step_throughput,
}


# --------------------------------------------------------------------------------------------
# The driver


def _run_steps(out: Path, env: dict[str, str]) -> dict[str, Any]:
    summary: dict[str, Any] = {"steps": {}}
    for step in STEPS:
        started = time.perf_counter()
        command = [sys.executable, str(Path(__file__).resolve()), "--step", step.name]
        print(f"[{step.name}] {step.summary} (limit {step.limit_s} s)", flush=True)
        try:
            run = subprocess.run(
                [*command, "--out", str(out)],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=step.limit_s,
            )
            status = "ok" if run.returncode == 0 else "failed"
            tail = run.stderr.strip().splitlines()[-3:]
        except subprocess.TimeoutExpired:
            status, tail = "timed out", []
        record = out / f"{step.name}.json"
        summary["steps"][step.name] = {
            "status": status,
            "seconds": round(time.perf_counter() - started, 1),
            "error": tail if status == "failed" else None,
            "result": json.loads(record.read_text()) if record.is_file() else None,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _gib(value: Any) -> str:
    return "n/a" if value is None else f"{value / GIB:.2f} GiB"


def _number(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    steps = summary["steps"]
    table = Table(title="archbench GPU check", show_lines=False)
    table.add_column("step")
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    for name, step in steps.items():
        error = f": {step['error'][-1]}" if step.get("error") else ""
        table.add_row(name, "status", f"{step['status']} in {step['seconds']} s{error}")
    env = (steps.get("env") or {}).get("result") or {}
    if env:
        table.add_row(
            "env",
            "GPU",
            f"{env.get('gpu')} {env.get('memory_gib')} GiB, driver {env.get('driver')}, "
            f"torch {env.get('torch')}, CUDA {env.get('cuda')}",
        )
    for suite, result in ((steps.get("tests") or {}).get("result") or {}).items():
        table.add_row(
            "tests",
            suite,
            f"{result['passed']} passed, {result['failed']} failed, {result['error']} errors, "
            f"{result['skipped']} skipped{' (cut at its limit)' if result['timed_out'] else ''}",
        )
    memory = (steps.get("memory") or {}).get("result") or {}
    for row in memory.get("models", []):
        table.add_row(
            "memory",
            row["model"],
            f"max batch {row['measured_max_batch']} vs predicted {row['predicted_max_batch']} "
            f"({_number(row['error_pct'], '+.1f')}%); peak alloc "
            f"{_gib(row['peak_allocated_bytes'])}, reserved {_gib(row['peak_reserved_bytes'])}, "
            f"predicted {_gib(row['predicted_peak_bytes'])}",
        )
    fitted = memory.get("fitted") or {}
    if fitted:
        table.add_row(
            "memory",
            "fitted allowance",
            f"context {_gib(fitted.get('cuda_context_bytes'))}, allocator overhead "
            f"{_number(fitted.get('allocator_overhead'), '.3f')} (code: "
            f"{_gib(memory['code']['cuda_context_bytes'])}, "
            f"{memory['code']['allocator_overhead']})",
        )
    search = (steps.get("search") or {}).get("result") or {}
    if search:
        overheads = [
            t["overhead_seconds"] for t in search.get("trials", []) if t["overhead_seconds"]
        ]
        training = [
            t["training_seconds"] for t in search.get("trials", []) if t["overhead_seconds"]
        ]
        share = sum(overheads) / sum(training) if training and sum(training) else None
        table.add_row(
            "search",
            "trials, memory",
            f"{(search.get('summary') or {}).get('trained')} trained; back to baseline: "
            f"{search.get('memory_back_to_baseline')}",
        )
        table.add_row(
            "search",
            "per-trial overhead",
            f"{_number(sum(overheads) / len(overheads) if overheads else None, '.1f')} s "
            f"({_number(share, '.0%')} of training)",
        )
    for row in ((steps.get("throughput") or {}).get("result") or {}).get("rows", []):
        table.add_row(
            "throughput",
            f"{row['model']} {row['setting']}",
            f"{row['trainer_images_per_second']:,.0f} vs hand {row['hand_images_per_second']:,.0f}"
            f" img/s: {row['ratio']:.2f}x",
        )
    Console(width=120).print(table)


def _fail(message: str) -> None:
    print(f"gpu-check: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "gpu-check")
    parser.add_argument("--dry-run", action="store_true", help="list the steps, check .whl/")
    parser.add_argument("--list-wheels", action="store_true", help="print the wheels to fetch")
    parser.add_argument("--wheels", type=Path, default=WHEELS_DIR, help="the wheels folder")
    parser.add_argument("--step", choices=list(STEP_FUNCTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.list_wheels:
        print(" ".join(pinned_wheels()))
        return
    if args.step:
        STEP_FUNCTIONS[args.step](args.out)
        return
    missing = missing_wheels(args.wheels)
    if args.dry_run:
        print(f"wheels install: {args.wheels} (limit {INSTALL_LIMIT_S} s)")
        for number, step in enumerate(STEPS, 1):
            print(f"{number}. {step.name}: {step.summary} (limit {step.limit_s} s)")
        total = INSTALL_LIMIT_S + sum(step.limit_s for step in STEPS)
        print(f"total limit {total} s; summary in {args.out}/summary.json")
        if missing:
            _fail(f"{args.wheels} lacks {', '.join(missing)}; run make gpu-wheels")
        print(f"{args.wheels} is complete: {len(WHEELS)} packages")
        return

    import torch

    if not torch.cuda.is_available():
        _fail(
            "no CUDA device on this machine (torch.cuda.is_available() is False); run it on a GPU"
        )
    if missing:
        _fail(f"{args.wheels} lacks {', '.join(missing)}; run make gpu-wheels where pip works")
    args.out.mkdir(parents=True, exist_ok=True)
    site = Path(tempfile.mkdtemp(prefix="archbench-wheels-"))
    try:
        started = time.perf_counter()
        install_wheels(args.wheels, site)
        print(f"[install] {len(WHEELS)} wheels in {time.perf_counter() - started:.1f} s")
        path = os.pathsep.join(filter(None, [str(REPO), str(site), os.environ.get("PYTHONPATH")]))
        summary = _run_steps(args.out, {**os.environ, "PYTHONPATH": path})
    finally:
        shutil.rmtree(site, ignore_errors=True)
    print_table(summary)
    print(f"wrote {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
