"""The statuses a trial ends in, apart from the record so that the CLI's help can name them
without importing optuna (the lazy facade of ``store/__init__.py``)."""

TRAINED, REJECTED, PRUNED, FAILED, RUNNING = "trained", "rejected", "pruned", "failed", "running"
STATUSES = (TRAINED, PRUNED, REJECTED, FAILED, RUNNING)
# Trained: to completion, or until the pruner stopped it after some epochs. Both hold a slot.
HAS_TRAINED = (TRAINED, PRUNED)
