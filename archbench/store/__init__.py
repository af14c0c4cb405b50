"""Where searches keep their trials: the Optuna storage, and the trial record in it.

The search writes the record (``archbench.search``) and the results read it back
(``archbench.results``); this package is what both agree on, so that reading a study needs no
search.
"""

import lazy_loader

# The exports are the names the stub (__init__.pyi) imports, for type checkers too; each module
# loads on first use, so that the CLI's help names the statuses without importing optuna.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
