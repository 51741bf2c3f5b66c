"""flake8-cancel: find and fix asyncio cancellation misuse."""

from flake8_cancel.lazy import defer_libcst

__version__ = "0.1.0"

defer_libcst()  # before any module of the package imports it: see lazy.py
