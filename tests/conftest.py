import sys
from pathlib import Path

# The helpers next to the tests (fixture_tools) import as plain modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_addoption(parser):
    parser.addoption(
        "--regenerate-fixed",
        action="store_true",
        help="rewrite fixtures/*.fixed.py from the current fixer instead of comparing",
    )


def pytest_collection_modifyitems(items):
    """Every hypothesis test is `generative`: the inner loop leaves those out with the `slow`
    ones (pytest -m "not slow and not generative"); the whole suite runs them all."""
    for item in items:
        if hasattr(getattr(item, "obj", None), "hypothesis"):
            item.add_marker("generative")
