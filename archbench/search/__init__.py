"""Search under a parameter budget: Optuna (and Ray Tune) over the declarative spaces.

``run(settings, progress=...)`` is the entry point of a search, and ``train_configs`` trains a
given pool of configs once each (``fidelity``). The trials it stores are read back through
``archbench.store``.
"""

import lazy_loader

# The exports are the names the stub (__init__.pyi) imports, for type checkers too; each module
# loads on first use, so that `archbench --help` imports no optuna, torch or matplotlib.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
