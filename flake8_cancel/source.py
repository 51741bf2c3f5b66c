"""Reading a module: decoding its bytes as Python does, screening it, parsing it with libcst.

Each step refuses what cannot be checked with an :class:`UncheckableFile` whose message says
why, for a person: bytes that do not decode, a syntax error, or code nested so deeply that
libcst would crash the process (a segfault, not an exception) or take minutes on it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Optional

import libcst as cst


class UncheckableFile(Exception):
    """The file cannot be checked; the message says why, for a person."""


def decode_source(data: bytes) -> str:
    """The text of a Python file, decoded as Python would (BOM, coding cookie, else UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        # tokenize reads the first two lines for a coding cookie, and fails on bytes that
        # are not UTF-8 there before it has found one: same fault as further down the file.
        if error.msg.startswith("invalid or missing encoding declaration"):
            raise UncheckableFile("cannot decode as UTF-8") from None
        if error.msg.startswith("encoding problem"):
            raise UncheckableFile(
                "cannot decode: a UTF-8 BOM and a coding cookie for another encoding"
            ) from None
        raise UncheckableFile(f"cannot decode: {error.msg}") from None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise UncheckableFile(f"cannot decode as {name}") from None


def python_tree_of(source: str) -> Optional[ast.AST]:
    """Refuse what no Python accepts and libcst's native parser cannot survive.

    libcst crashes the process (a segfault, not an exception) on a few thousand nested brackets,
    unary operators or lambdas, and takes minutes on huge expression chains. CPython's C parser
    rejects most of these quickly, so it reads every file before libcst sees it; what it
    accepts is measured by ``refuse_deep_nesting``, but only where libcst will parse it (the
    engine parses the regions of a module that can matter, regions.py). A plain syntax error
    is left to libcst: it may be newer syntax that libcst knows and this Python does not.
    Returns CPython's tree, or None for such a syntax error.
    """
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError):
        raise UncheckableFile("skipped: too deeply nested") from None
    except SyntaxError as error:
        if error.msg.startswith(("too many", "too complex")):
            raise UncheckableFile("skipped: too deeply nested") from None
        if "null bytes" in error.msg:
            raise UncheckableFile("contains a NUL byte") from None
    except ValueError:  # Python < 3.12 reports a NUL byte this way
        raise UncheckableFile("contains a NUL byte") from None
    else:
        return tree
    return None


# Deeper than any real code (homeassistant's deepest file: 16), far below what libcst survives.
MAX_NESTING = 1000


def refuse_deep_nesting(tree: ast.AST) -> None:
    """Refuse an expression nested deeper than MAX_NESTING. Python 3.9 and 3.10 (and 3.13, up to
    a few thousand) accept chains such as ``a.b.b.b...`` or ``1 + 1 + ...`` that libcst parses
    in quadratic time, or crashes on. Statements start the count afresh: their nesting is
    bounded by Python's, and a long elif chain is no trouble to libcst."""
    children = ast.iter_child_nodes
    statement = ast.stmt
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise UncheckableFile("skipped: too deeply nested")
        stack.extend(
            (child, 1 if isinstance(child, statement) else depth + 1) for child in children(node)
        )


def parse(source: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise UncheckableFile(_syntax_error_reason(source, error)) from None
    except RecursionError:
        raise UncheckableFile("skipped: too deeply nested") from None


def _syntax_error_reason(source: str, error: cst.ParserSyntaxError) -> str:
    # libcst's native parser often points past the real error; CPython's parser does not.
    try:
        ast.parse(source)
    except SyntaxError as python_error:
        return f"syntax error at line {python_error.lineno}: {python_error.msg}"
    except (RecursionError, MemoryError, ValueError):
        pass
    else:  # valid Python (thousands of adjacent string literals): a limit of libcst's parser
        return f"skipped: libcst cannot parse it (line {error.raw_line}: {error.message})"
    return f"syntax error at line {error.raw_line}: {error.message}"


def parse_bytes(data: bytes) -> cst.Module:
    try:
        return cst.parse_module(data)
    except cst.ParserSyntaxError:
        parse(decode_source(data))  # raises UncheckableFile with CPython's precise reason
        raise
    except RecursionError:
        raise UncheckableFile("skipped: too deeply nested") from None
