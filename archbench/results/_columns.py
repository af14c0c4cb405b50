"""The columns of results and how their values read: sort fields, table headers, the exported
recipe's name. Apart from the modules that import optuna, so that the CLI's help can name them
(the lazy facade of ``results/__init__.py``)."""

from typing import Any

from archbench._units import format_bytes, format_count

# --sort name -> (TrialRow field, larger is better)
SORT_FIELDS: dict[str, tuple[str, bool]] = {
    "accuracy": ("val_accuracy", True),
    "params": ("n_params", False),
    "flops": ("flops", False),
    "latency": ("latency_ms", False),
    "throughput": ("infer_images_per_second", True),
    "train_throughput": ("train_images_per_second", True),
    "memory": ("peak_train_memory_bytes", False),
    "max_batch": ("predicted_max_batch_size", True),
    "trial": ("number", False),
}


# Table columns: header -> TrialRow field (rank is the RankedTrial's).
COLUMNS: dict[str, str] = {
    "rank": "rank",
    "trial": "number",
    "val accuracy": "val_accuracy",
    "params": "n_params",
    "FLOPs": "flops",
    "latency ms": "latency_ms",
    "infer img/s": "infer_images_per_second",
    "train img/s": "train_images_per_second",
    "peak train memory": "peak_train_memory_bytes",
    "max batch (pred.)": "predicted_max_batch_size",
    "epochs": "epochs_trained",
    "zero-cost score": "zero_cost_score",
    "state": "status",
    "reason": "reason",
}

# The full-training recipe ``archbench export`` writes into each file.
DEFAULT_EXPORT_RECIPE = "sgd_cosine"


def format_value(field: str, value: Any) -> str:
    """A figure for a table: ``-`` when it was not measured, units where they help."""
    if value is None:
        return "-"
    if field == "val_accuracy":
        return f"{value:.2%}"
    if field in ("n_params", "flops"):
        return format_count(value)
    if field == "latency_ms":
        return f"{value:.3g}"
    if field == "zero_cost_score":
        return f"{value:.4g}"
    if field.endswith("images_per_second"):
        return f"{value:,.0f}"
    if field.endswith("_bytes"):
        return format_bytes(value)
    return str(value)
