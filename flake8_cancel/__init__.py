"""flake8-cancel: find and fix asyncio cancellation misuse."""

__version__ = "0.1.0"
