"""The statuses a trial ends in, apart from the record so that the CLI's help can name them
without importing optuna (``archbench/_lazy.py``)."""

TRAINED, REJECTED, PRUNED, FAILED, RUNNING = "trained", "rejected", "pruned", "failed", "running"
STATUSES = (TRAINED, PRUNED, REJECTED, FAILED, RUNNING)
