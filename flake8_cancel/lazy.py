"""libcst, loaded the first time something of it is used.

Importing libcst costs more (about 0.15 s: its node classes) than flake8 takes on a file without
async code, and most files never need it: the gate and the screen turn them away first. The
package's ``__init__`` therefore calls :func:`defer_libcst` before any of its modules runs: it puts
in ``sys.modules`` a module that holds libcst's name and spec, and runs libcst's own ``__init__``
in itself the first time anything else is asked of it (``cst.Name``, ``from libcst import X``,
``import libcst.metadata``). Every module keeps writing ``import libcst as cst``; from the first
use on, that module *is* libcst, for this package and for anyone else in the process.

The rule this sets: nothing of libcst is touched when a module of the package is imported (no
``cst.X`` in a module-level statement, a class's bases or a default value; an alias that only
annotations use is written as a string). tests/test_lazy_imports.py checks it.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

LIBCST = "libcst"


class _Deferred(types.ModuleType):
    """libcst before its first use. ``__getattr__`` runs only for a name the module lacks: its
    spec, name and loader are there; its ``__path__`` is held back, so that importing one of its
    submodules loads the package first, as Python would have."""

    def __getattr__(self, name: str) -> object:
        _load(self, name)
        return getattr(self, name)


_lock = threading.RLock()
_held_back: dict = {}


def defer_libcst() -> None:
    """Put a deferred libcst in ``sys.modules``, unless libcst is imported already (or missing:
    then the first ``import libcst`` fails as it always would)."""
    if LIBCST in sys.modules:
        return
    spec = importlib.util.find_spec(LIBCST)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    _held_back[id(module)] = module.__dict__.pop("__path__", None)
    module.__class__ = _Deferred
    sys.modules[LIBCST] = module


def _load(module: types.ModuleType, name: str) -> None:
    with _lock:
        if type(module) is not _Deferred or id(module) not in _held_back:
            # Loaded, or being loaded by this thread (libcst's own modules ask for names of the
            # package while it runs): a name it lacks is missing, as during any import.
            raise AttributeError(f"partially initialized module {LIBCST!r} has no attribute {name!r}")
        path = _held_back.pop(id(module))
        if path is not None:
            module.__path__ = path
        try:
            module.__spec__.loader.exec_module(module)  # type: ignore[union-attr]
        except BaseException:
            if sys.modules.get(LIBCST) is module:
                del sys.modules[LIBCST]  # the next import tries again, and fails in the open
            raise
        finally:
            module.__class__ = types.ModuleType
