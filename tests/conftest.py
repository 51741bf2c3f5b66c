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
