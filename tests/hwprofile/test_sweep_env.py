"""The batch-size sweep with its plot, and result file names built from the environment."""

from __future__ import annotations

from pathlib import Path

import torch

from archbench.hwprofile import (
    SweepPoint,
    SweepResult,
    plot_sweep,
    result_filename,
    sweep_batch_sizes,
)
from archbench.models import get_preset


def test_sweep_measures_and_predicts_each_batch_size(tmp_path: Path) -> None:
    result = sweep_batch_sizes(get_preset("simple_cnn"), [8, 2, 8], device="cpu")
    assert [point.batch_size for point in result.points] == [2, 8]
    for point in result.points:
        assert point.train_images_per_second and point.infer_images_per_second
        assert point.peak_train_memory_bytes == point.predicted_train_memory_bytes
        assert not point.unavailable
        assert point.train_timed_blocks == point.infer_timed_blocks == 5
        assert point.train_images_per_second_iqr is not None
    small, large = result.points
    assert small.predicted_train_memory_bytes < large.predicted_train_memory_bytes
    assert result.env["batch_sizes"] == [2, 8] and result.env["batch_size"] is None
    assert SweepResult.from_dict(result.to_dict()) == result
    plot = plot_sweep(result, tmp_path / "plots" / "sweep.png", title="simple_cnn")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _env(**overrides: object) -> dict[str, object]:
    env: dict[str, object] = {
        "device": "cpu",
        "device_name": "Intel(R) Xeon(R)",
        "torch": "2.14.1+cu130",
        "precision": "fp32",
        "memory_format": "nchw",
        "compile": False,
    }
    return env | overrides


def test_cpu_file_name_follows_timm() -> None:
    name = result_filename(_env(), "resnet18_cifar")
    assert name == "profile-train-fp32-nchw-pt2.14-cpu-resnet18_cifar.json"


def test_gpu_file_name_names_cuda_and_the_gpu() -> None:
    env = _env(
        device="cuda:0",
        device_name="NVIDIA GeForce RTX 4090",
        cuda="13.0",
        precision="amp_bf16",
        memory_format="nhwc",
        compile=True,
    )
    name = result_filename(env, "My Net", kind="sweep", suffix=".png")
    assert name == "sweep-train-amp_bf16-nhwc-pt2.14-cu130-rtx-4090-compiled-my-net.png"


def test_this_torch_goes_into_the_name() -> None:
    major_minor = ".".join(torch.__version__.split(".")[:2])
    assert f"-pt{major_minor}-" in result_filename(_env(torch=torch.__version__), "m")


def test_a_noisy_sweep_point_is_drawn_hollow_and_named(tmp_path: Path) -> None:
    result = SweepResult(
        points=(
            SweepPoint(batch_size=2, predicted_train_memory_bytes=1, infer_images_per_second=5.0),
            SweepPoint(
                batch_size=4,
                predicted_train_memory_bytes=2,
                infer_images_per_second=9.0,
                noisy={"infer_images_per_second": "load average 9.0 > 2 cores"},
            ),
        ),
        env={},
    )
    labels = []
    import matplotlib.figure

    original = matplotlib.figure.Figure.savefig

    def capture(figure: matplotlib.figure.Figure, *args: object, **kwargs: object) -> None:
        for axes in figure.axes:
            labels.extend(axes.get_legend_handles_labels()[1])
        original(figure, *args, **kwargs)

    matplotlib.figure.Figure.savefig = capture  # type: ignore[method-assign]
    try:
        plot_sweep(result, tmp_path / "sweep.png", title="noisy")
    finally:
        matplotlib.figure.Figure.savefig = original  # type: ignore[method-assign]
    assert "inference, noisy timing (1)" in labels
