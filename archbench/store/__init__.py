"""Where searches keep their trials: the Optuna storage, and the study's spec and the trial
records in it.

The search writes them (``archbench.search``) and the results read them back
(``archbench.results``); this package is what both agree on, so that reading a study needs no
search.
"""

import lazy_loader

# The exports are the names the stub (__init__.pyi) imports, for type checkers too; each module
# loads on first use, so that the CLI's help names the statuses without importing optuna.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
