"""Where searches keep their trials: the Optuna storage, the study's spec and the trial records
in it, and the ledger that moves a trial from its owner's first write to its settled record.

The search writes through it (``archbench.search``) and the results read it back
(``archbench.results``); this package is what both agree on, so that reading a study needs no
search. The ledger (``_ledger.py``) is the only module that uses Optuna's private API, and
``settle`` (``_settle.py``) the one function that decides a trial's status.
"""

import lazy_loader

# The exports are the names the stub (__init__.pyi) imports, for type checkers too; each module
# loads on first use, so that the CLI's help names the statuses without importing optuna.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
