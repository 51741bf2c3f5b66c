"""One module per rule, named ``canNNN_slug``. Importing this package registers them all."""

import importlib
import pkgutil

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
    if _module.name.startswith("can"):
        importlib.import_module(f"{__name__}.{_module.name}")
