"""What a name means in a module (flake8_cancel/names.py).

``Bindings`` resolves a Name or Attribute chain to every qualified name it may stand for, from the
module's imports and simple aliases only; ``Vocabulary`` answers what the rules ask of a name
(what an ``except`` clause or a ``suppress(...)`` catches, which calls are timeout managers,
``wait_for`` or never return). Each test gives a small module and compares exact meanings.
"""

from __future__ import annotations

import textwrap
from typing import Dict, FrozenSet, List, Optional

import libcst as cst
import pytest

from flake8_cancel.names import (
    CANCELLED_ERROR,
    NOTHING,
    Bindings,
    Catch,
    Definition,
    Element,
    Vocabulary,
    collect_module_bindings,
    last_names,
    never_returning_functions,
    record_simple_statement,
)
from flake8_cancel.settings import Settings, module_package

EMPTY = cst.Module(body=[])


def parse(source: str) -> cst.Module:
    return cst.parse_module(textwrap.dedent(source))


def bindings_of(source: str) -> Bindings:
    return collect_module_bindings(parse(source))


def meanings(source: str, expression: str) -> FrozenSet[str]:
    return bindings_of(source).resolve(cst.parse_expression(expression))


def code(node: cst.CSTNode) -> str:
    return EMPTY.code_for_node(node)


def expanded(bindings: Bindings, expression: Optional[str]) -> List[str]:
    node = None if expression is None else cst.parse_expression(expression)
    return [code(single) for single in bindings.exception_types(node)]


def scope_with(parent: Bindings, *lines: str) -> Bindings:
    """A function scope chained to ``parent``, with the given statements recorded."""
    inner = Bindings(parent=parent)
    for line in lines:
        record_simple_statement(cst.parse_statement(line), inner)
    return inner


def vocabulary_of(source: str, settings: Settings = Settings()) -> Vocabulary:
    module = parse(source)
    bindings = collect_module_bindings(module)
    return Vocabulary(
        bindings,
        cancelled=settings.cancelled_names,
        never_returning=settings.never_returning,
        local_never_returning=never_returning_functions(module, bindings),
        suppressors=settings.suppressors,
        timeout_managers=settings.timeout_managers,
    )


def flags(catch: Catch) -> FrozenSet[str]:
    """What the clause names (not what that means for shielding: catches_every_cancellation)."""
    return frozenset(
        name
        for name in Catch.__slots__
        if getattr(catch, name) and name != "catches_every_cancellation"
    )


@pytest.mark.parametrize(
    "source, exception_type, every",
    [
        ("import asyncio", "asyncio.CancelledError", True),
        ("import trio", "trio.Cancelled", True),
        ("import asyncio, trio", "trio.Cancelled", False),
        ("import asyncio, trio", "asyncio.CancelledError", False),
        ("import asyncio, trio", "(trio.Cancelled, asyncio.CancelledError)", True),
        ("import asyncio, trio, anyio", "anyio.get_cancelled_exc_class()", True),
        ("import asyncio, trio", "BaseException", True),
        ("import asyncio, trio", None, True),
        ("import asyncio", "Exception", False),
    ],
)
def test_a_clause_catches_every_cancellation_only_of_every_library_the_module_runs(
    source, exception_type, every
):
    node = None if exception_type is None else cst.parse_expression(exception_type)
    assert vocabulary_of(source).catch_of(node).catches_every_cancellation is every


def caught(source: str, exception_type: Optional[str], settings: Settings = Settings()):
    node = None if exception_type is None else cst.parse_expression(exception_type)
    return flags(vocabulary_of(source, settings).catch_of(node))


def with_statement(source: str) -> cst.With:
    module = parse(source)
    statement = module.body[-1]
    assert isinstance(statement, cst.With)
    return statement


# -- imports ------------------------------------------------------------------------------------


def test_import_binds_the_module_to_its_own_name():
    assert meanings("import asyncio", "asyncio") == {"asyncio"}


def test_import_as_binds_the_alias_to_the_module():
    assert meanings("import asyncio as aio", "aio") == {"asyncio"}


def test_import_as_leaves_the_module_name_unbound():
    assert meanings("import asyncio as aio", "asyncio") == NOTHING


def test_importing_a_submodule_binds_the_top_level_package():
    assert meanings("import asyncio.exceptions", "asyncio") == {"asyncio"}


def test_importing_a_submodule_resolves_the_full_attribute_chain():
    source = "import asyncio.exceptions"
    assert meanings(source, "asyncio.exceptions.CancelledError") == {
        "asyncio.exceptions.CancelledError"
    }


def test_importing_a_submodule_as_an_alias_binds_the_alias_to_the_submodule():
    source = "import asyncio.exceptions as aexc"
    assert meanings(source, "aexc.CancelledError") == {"asyncio.exceptions.CancelledError"}


def test_from_import_binds_the_qualified_name():
    assert meanings("from asyncio import CancelledError", "CancelledError") == {
        "asyncio.CancelledError"
    }


def test_from_import_as_binds_the_alias():
    assert meanings("from asyncio import CancelledError as CE", "CE") == {"asyncio.CancelledError"}


def test_from_import_as_leaves_the_imported_name_unbound():
    assert meanings("from asyncio import CancelledError as CE", "CancelledError") == NOTHING


def test_from_import_of_a_submodule_resolves_attributes_through_it():
    source = "from asyncio import exceptions"
    assert meanings(source, "exceptions.CancelledError") == {"asyncio.exceptions.CancelledError"}


def test_several_names_in_one_import_are_each_bound():
    bindings = bindings_of("import asyncio, contextlib as cl")
    assert bindings.resolve(cst.parse_expression("asyncio")) == {"asyncio"}
    assert bindings.resolve(cst.parse_expression("cl")) == {"contextlib"}


def test_a_relative_from_import_has_unknown_meaning():
    assert meanings("from .compat import CancelledError", "CancelledError") == NOTHING


def test_a_relative_import_of_a_module_has_unknown_meaning():
    assert meanings("from . import asyncio", "asyncio.CancelledError") == NOTHING


def test_a_later_import_replaces_an_earlier_one():
    source = """\
        from trio import CancelledError
        from asyncio import CancelledError
    """
    assert meanings(source, "CancelledError") == {"asyncio.CancelledError"}


# -- star imports ---------------------------------------------------------------------------------


def test_a_star_import_binds_its_known_exports():
    assert meanings("from asyncio import *", "CancelledError") == {"asyncio.CancelledError"}


def test_a_star_import_binds_wait_for_and_timeout():
    bindings = bindings_of("from asyncio import *")
    assert bindings.resolve(cst.Name("wait_for")) == {"asyncio.wait_for"}
    assert bindings.resolve(cst.Name("timeout")) == {"asyncio.timeout"}


def test_a_star_import_hides_the_builtin_of_the_same_name():
    assert meanings("from asyncio import *", "TimeoutError") == {"asyncio.TimeoutError"}


def test_a_star_import_of_a_submodule_binds_its_known_exports():
    source = "from asyncio.exceptions import *"
    assert meanings(source, "CancelledError") == {"asyncio.exceptions.CancelledError"}


def test_a_star_import_binds_suppress_from_contextlib():
    assert meanings("from contextlib import *", "suppress") == {"contextlib.suppress"}


def test_a_star_import_does_not_bind_names_it_is_not_known_to_export():
    assert meanings("from asyncio import *", "gather") == NOTHING


def test_a_star_import_from_an_unknown_module_binds_nothing():
    assert meanings("from mystery import *", "CancelledError") == NOTHING


def test_an_explicit_import_after_a_star_import_wins():
    source = """\
        from asyncio import *
        from trio import CancelledError
    """
    assert meanings(source, "CancelledError") == {"trio.CancelledError"}


def test_a_star_import_of_the_module_is_visible_in_a_nested_scope():
    inner = scope_with(bindings_of("from asyncio import *"), "import os")
    assert inner.resolve(cst.Name("CancelledError")) == {"asyncio.CancelledError"}


# -- fallback imports ----------------------------------------------------------------------------


def test_a_fallback_import_adds_a_meaning_without_hiding_the_primary():
    source = """\
        try:
            from asyncio import timeout
        except ImportError:
            from async_timeout import timeout
    """
    assert meanings(source, "timeout") == {"asyncio.timeout", "async_timeout.timeout"}


def test_a_fallback_import_as_alias_adds_a_meaning_without_hiding_the_primary():
    source = """\
        try:
            import asyncio as aio
        except ImportError:
            import trio as aio
    """
    assert meanings(source, "aio") == {"asyncio", "trio"}


def test_a_fallback_import_binds_a_name_the_primary_did_not():
    source = """\
        try:
            import uvloop
        except ImportError:
            from asyncio import CancelledError
    """
    assert meanings(source, "CancelledError") == {"asyncio.CancelledError"}


def test_an_else_branch_of_a_version_check_adds_a_meaning_without_hiding_the_primary():
    source = """\
        import sys
        if sys.version_info >= (3, 11):
            from asyncio import timeout
        else:
            from async_timeout import timeout
    """
    assert meanings(source, "timeout") == {"asyncio.timeout", "async_timeout.timeout"}


def test_every_elif_branch_of_a_version_check_adds_a_meaning():
    source = """\
        import sys
        if sys.version_info >= (3, 11):
            from asyncio import TimeoutError
        elif sys.version_info >= (3, 8):
            from asyncio.exceptions import TimeoutError
        else:
            from concurrent.futures import TimeoutError
    """
    assert meanings(source, "TimeoutError") == {
        "asyncio.TimeoutError",
        "asyncio.exceptions.TimeoutError",
        "concurrent.futures.TimeoutError",
    }


def test_a_fallback_inside_a_version_check_branch_adds_a_meaning():
    source = """\
        import sys
        if sys.version_info >= (3, 11):
            from asyncio import timeout
        else:
            try:
                from async_timeout import timeout
            except ImportError:
                from backports import timeout
    """
    assert meanings(source, "timeout") == {
        "asyncio.timeout",
        "async_timeout.timeout",
        "backports.timeout",
    }


def test_an_import_in_the_else_block_of_a_try_is_a_replacement_not_a_fallback():
    source = """\
        from trio import CancelledError
        try:
            import uvloop
        except ImportError:
            pass
        else:
            from asyncio import CancelledError
    """
    assert meanings(source, "CancelledError") == {"asyncio.CancelledError"}


def test_a_primary_import_in_a_try_body_replaces_an_earlier_import():
    source = """\
        from trio import CancelledError
        try:
            from asyncio import CancelledError
        except ImportError:
            pass
    """
    assert meanings(source, "CancelledError") == {"asyncio.CancelledError"}


def test_imports_in_a_function_body_are_not_module_bindings():
    source = """\
        def main():
            import asyncio
    """
    assert meanings(source, "asyncio") == NOTHING


# -- nested scopes -------------------------------------------------------------------------------


def test_a_nested_scope_resolves_the_names_of_its_parent():
    inner = scope_with(bindings_of("import asyncio"), "import os")
    assert inner.resolve(cst.parse_expression("asyncio.CancelledError")) == {
        "asyncio.CancelledError"
    }


def test_a_nested_scope_import_shadows_the_parent_binding():
    inner = scope_with(
        bindings_of("from asyncio import CancelledError"),
        "from trio import Cancelled as CancelledError",
    )
    assert inner.resolve(cst.Name("CancelledError")) == {"trio.Cancelled"}


def test_a_nested_scope_import_does_not_change_the_parent():
    module = bindings_of("from asyncio import CancelledError")
    scope_with(module, "from trio import Cancelled as CancelledError")
    assert module.resolve(cst.Name("CancelledError")) == {"asyncio.CancelledError"}


def test_a_scope_chain_resolves_through_every_level():
    middle = scope_with(bindings_of("import asyncio"), "import contextlib")
    inner = scope_with(middle, "import os")
    assert inner.resolve(cst.parse_expression("asyncio.timeout")) == {"asyncio.timeout"}
    assert inner.resolve(cst.parse_expression("contextlib.suppress")) == {"contextlib.suppress"}


def test_record_simple_statement_records_every_small_statement_of_a_line():
    inner = scope_with(Bindings(), "import asyncio; CE = asyncio.CancelledError")
    assert inner.resolve(cst.Name("CE")) == {"asyncio.CancelledError"}


def test_record_simple_statement_with_fallback_adds_a_meaning():
    inner = Bindings()
    record_simple_statement(cst.parse_statement("from asyncio import timeout"), inner)
    record_simple_statement(
        cst.parse_statement("from async_timeout import timeout"), inner, fallback=True
    )
    assert inner.resolve(cst.Name("timeout")) == {"asyncio.timeout", "async_timeout.timeout"}


# -- aliases -------------------------------------------------------------------------------------


def test_an_alias_of_an_attribute_chain_means_what_the_chain_means():
    source = """\
        import asyncio
        CE = asyncio.CancelledError
    """
    assert meanings(source, "CE") == {"asyncio.CancelledError"}


def test_an_alias_of_an_alias_means_what_the_first_means():
    source = """\
        import asyncio
        CE = asyncio.CancelledError
        Cancelled = CE
    """
    assert meanings(source, "Cancelled") == {"asyncio.CancelledError"}


def test_an_alias_of_a_builtin_means_the_builtin():
    assert meanings("Timeout = TimeoutError", "Timeout") == {"builtins.TimeoutError"}


def test_an_alias_of_an_unknown_name_means_nothing():
    assert meanings("CE = mystery.CancelledError", "CE") == NOTHING


def test_an_alias_of_a_call_means_what_the_call_returns_not_the_callee():
    source = """\
        import asyncio
        import anyio
        CE = asyncio.CancelledError()
        CE_CLASS = anyio.get_cancelled_exc_class()
        LATER = asyncio.CancelledError("with", "arguments")
    """
    assert meanings(source, "CE") == {"asyncio.CancelledError()"}
    assert meanings(source, "CE_CLASS") == {"anyio.get_cancelled_exc_class()"}
    assert meanings(source, "LATER") == NOTHING


@pytest.mark.parametrize(
    "statement, meaning",
    [
        ("from ._core import CancelScope", "pkg.sub._core.CancelScope"),
        ("from .. import _core", "pkg._core"),
        ("from ..errors import Broken as B", "pkg.errors.Broken"),
        ("from . import helpers", "pkg.sub.helpers"),
    ],
)
def test_a_relative_import_resolves_against_the_package(statement, meaning):
    module = cst.parse_module(statement + "\n")
    bindings = collect_module_bindings(module, package="pkg.sub")
    local = statement.split()[-1]
    assert bindings.resolve(cst.parse_expression(local)) == {meaning}


def test_a_relative_import_beyond_the_top_package_or_without_one_means_nothing():
    module = cst.parse_module("from ... import thing\nfrom .x import other\n")
    assert collect_module_bindings(module, package="pkg.sub").resolve(cst.Name("thing")) == NOTHING
    assert collect_module_bindings(module).resolve(cst.Name("other")) == NOTHING


def test_the_package_of_a_module_comes_from_the_init_files_above_it(tmp_path):
    package = tmp_path / "src" / "lib" / "streams"
    package.mkdir(parents=True)
    (tmp_path / "src" / "lib" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (tmp_path / "loose.py").write_text("")
    assert module_package(str(package / "tls.py")) == "lib.streams"
    assert module_package(str(tmp_path / "loose.py")) is None


def test_an_alias_inside_a_version_check_is_recorded():
    source = """\
        import sys, asyncio
        if sys.version_info >= (3, 8):
            CE = asyncio.CancelledError
    """
    assert meanings(source, "CE") == {"asyncio.CancelledError"}


# -- tuple aliases and exception_types -----------------------------------------------------------


def test_a_tuple_alias_is_not_itself_a_name():
    source = """\
        import asyncio
        ERRORS = (OSError, asyncio.CancelledError)
    """
    assert meanings(source, "ERRORS") == NOTHING


def test_exception_types_expands_a_tuple_alias():
    bindings = bindings_of(
        """\
        import asyncio
        ERRORS = (OSError, asyncio.CancelledError)
        """
    )
    assert expanded(bindings, "ERRORS") == ["OSError", "asyncio.CancelledError"]


def test_exception_types_expands_a_tuple_alias_inside_a_tuple_alias():
    bindings = bindings_of(
        """\
        import asyncio
        ERRORS = (OSError, asyncio.CancelledError)
        MORE = (ERRORS, ValueError)
        """
    )
    assert expanded(bindings, "MORE") == ["OSError", "asyncio.CancelledError", "ValueError"]


def test_exception_types_expands_a_written_tuple():
    assert expanded(Bindings(), "(ValueError, KeyError)") == ["ValueError", "KeyError"]


def test_exception_types_flattens_nested_tuples():
    assert expanded(Bindings(), "(ValueError, (KeyError, IndexError))") == [
        "ValueError",
        "KeyError",
        "IndexError",
    ]


def test_exception_types_expands_a_tuple_alias_inside_a_written_tuple():
    bindings = bindings_of("ERRORS = (OSError, KeyError)")
    assert expanded(bindings, "(ERRORS, ValueError)") == ["OSError", "KeyError", "ValueError"]


def test_exception_types_yields_a_single_name_as_is():
    assert expanded(Bindings(), "asyncio.CancelledError") == ["asyncio.CancelledError"]


def test_exception_types_yields_an_expression_it_cannot_expand_as_is():
    assert expanded(Bindings(), "errors()") == ["errors()"]


def test_exception_types_of_no_type_is_empty():
    assert expanded(Bindings(), None) == []


def test_a_name_rebound_by_import_shadows_a_tuple_alias():
    bindings = bindings_of(
        """\
        ERRORS = (OSError, KeyError)
        from errors import ERRORS
        """
    )
    assert expanded(bindings, "ERRORS") == ["ERRORS"]
    assert bindings.resolve(cst.Name("ERRORS")) == {"errors.ERRORS"}


def test_an_import_in_a_nested_scope_shadows_a_module_tuple_alias():
    inner = scope_with(bindings_of("ERRORS = (OSError, KeyError)"), "from errors import ERRORS")
    assert expanded(inner, "ERRORS") == ["ERRORS"]


def test_a_nested_scope_expands_the_tuple_alias_of_its_parent():
    inner = scope_with(bindings_of("ERRORS = (OSError, KeyError)"), "import os")
    assert expanded(inner, "ERRORS") == ["OSError", "KeyError"]


def test_tuple_alias_returns_the_elements_of_the_tuple():
    aliased = bindings_of("ERRORS = (OSError, KeyError)").tuple_alias("ERRORS")
    assert aliased is not None
    assert [code(element) for element in aliased] == ["OSError", "KeyError"]


def test_tuple_alias_of_a_name_that_is_no_tuple_is_none():
    assert bindings_of("import asyncio").tuple_alias("asyncio") is None


# -- names imported from other modules of the project (follow) ----------------------------------


class FakeProject:
    """A ``follow`` that answers from a dict, and remembers what it was asked."""

    def __init__(self, definitions: Dict[str, Definition]) -> None:
        self.definitions = definitions
        self.asked: List[str] = []

    def __call__(self, qualified: str) -> Optional[Definition]:
        self.asked.append(qualified)
        return self.definitions.get(qualified)


TUPLE = Definition(
    elements=(
        Element("OSError", frozenset({"builtins.OSError"})),
        Element("CancelledError", frozenset({"asyncio.CancelledError"})),
        Element(None, frozenset()),
    )
)


def bindings_with(source: str, follow: FakeProject, package: str = "pkg.sub") -> Bindings:
    return collect_module_bindings(cst.parse_module(source), package, follow)


def test_an_imported_tuple_expands_to_stand_ins_that_mean_what_they_mean_there():
    follow = FakeProject({"pkg.const.ERRORS": TUPLE})
    bindings = bindings_with("from ..const import ERRORS\n", follow)
    types = list(bindings.exception_types(cst.Name("ERRORS")))
    assert [bindings.resolve(single) for single in types] == [
        {"builtins.OSError"}, {"asyncio.CancelledError"}, frozenset()
    ]
    assert isinstance(types[2], cst.Ellipsis)  # an element that is no name: any class at all
    assert bindings.tuple_alias("ERRORS") == tuple(types)
    assert bindings.resolve(cst.Name("ERRORS")) == {"pkg.const.ERRORS"}


def test_an_imported_alias_means_what_it_stands_for_there():
    follow = FakeProject({
        "pkg.compat.Cancelled": Definition(meanings=frozenset({"asyncio.CancelledError"})),
        "pkg.compat.fail": Definition(never_returns=True),
    })
    bindings = bindings_with("from pkg import compat\nfrom ..compat import fail\n", follow)
    assert bindings.resolve(cst.parse_expression("compat.Cancelled")) == {"asyncio.CancelledError"}
    assert bindings.defined_never_returning(bindings.resolve(cst.Name("fail")))
    assert not bindings.defined_never_returning(bindings.resolve(cst.Name("compat")))


def test_only_names_of_the_project_are_asked_about():
    follow = FakeProject({})
    bindings = bindings_with(
        "import asyncio\nfrom otherlib import ERRORS\nfrom .x import Y\n", follow
    )
    for name in ("asyncio.CancelledError", "ERRORS", "Y", "OSError"):
        list(bindings.exception_types(cst.parse_expression(name)))
    assert set(follow.asked) == {"pkg.sub.x.Y"}


def test_a_tuple_assigned_in_a_function_shadows_an_imported_one():
    follow = FakeProject({"pkg.const.ERRORS": TUPLE})
    outer = bindings_with("from pkg.const import ERRORS\n", follow)
    inner = Bindings(parent=outer)
    inner.add_alias("ERRORS", cst.parse_expression("(KeyError,)"))
    assert [code(single) for single in inner.exception_types(cst.Name("ERRORS"))] == [
        "KeyError"
    ]
    assert inner.resolve(cst.Name("ERRORS")) == frozenset()


# -- builtins, unknown names, attribute chains ---------------------------------------------------


@pytest.mark.parametrize("name", ["BaseException", "Exception", "TimeoutError", "ValueError"])
def test_a_builtin_name_resolves_to_builtins(name):
    assert meanings("", name) == {f"builtins.{name}"}


def test_an_import_hides_the_builtin_of_the_same_name():
    source = "from asyncio import TimeoutError"
    assert meanings(source, "TimeoutError") == {"asyncio.TimeoutError"}


def test_an_unknown_name_resolves_to_nothing():
    assert meanings("", "frobnicate") == NOTHING


def test_cancelled_error_without_an_import_resolves_to_nothing():
    assert meanings("", "CancelledError") == NOTHING


def test_an_attribute_of_an_unknown_name_resolves_to_nothing():
    assert meanings("", "foo.CancelledError") == NOTHING


def test_an_attribute_is_never_guessed_from_its_last_name():
    assert meanings("import foo", "foo.CancelledError") == {"foo.CancelledError"}


def test_an_attribute_chain_resolves_every_meaning_of_its_base():
    source = """\
        try:
            import asyncio as aio
        except ImportError:
            import trio as aio
    """
    assert meanings(source, "aio.CancelledError") == {
        "asyncio.CancelledError",
        "trio.CancelledError",
    }


@pytest.mark.parametrize("expression", ["f()", "errors[0]", "'asyncio'", "asyncio().x"])
def test_an_expression_other_than_a_name_chain_resolves_to_nothing(expression):
    assert meanings("import asyncio", expression) == NOTHING


def test_resolves_to_is_true_when_one_meaning_is_wanted():
    bindings = bindings_of("import asyncio")
    node = cst.parse_expression("asyncio.CancelledError")
    assert bindings.resolves_to(node, CANCELLED_ERROR) is True


def test_resolves_to_is_false_when_no_meaning_is_wanted():
    bindings = bindings_of("import trio")
    node = cst.parse_expression("trio.CancelledError")
    assert bindings.resolves_to(node, CANCELLED_ERROR) is False


# -- visible_names and last_names ----------------------------------------------------------------


def test_visible_names_lists_the_module_bindings_in_order():
    bindings = bindings_of(
        """\
        import asyncio
        from contextlib import suppress
        CE = asyncio.CancelledError
        """
    )
    assert list(bindings.visible_names()) == [
        ("asyncio", {"asyncio"}),
        ("suppress", {"contextlib.suppress"}),
        ("CE", {"asyncio.CancelledError"}),
    ]


def test_visible_names_lists_the_innermost_scope_first_and_each_name_once():
    module = bindings_of(
        """\
        import asyncio
        from asyncio import CancelledError
        """
    )
    inner = scope_with(module, "from trio import Cancelled as CancelledError")
    assert list(inner.visible_names()) == [
        ("CancelledError", {"trio.Cancelled"}),
        ("asyncio", {"asyncio"}),
    ]


def test_visible_names_leaves_out_tuple_aliases_and_star_exports():
    bindings = bindings_of(
        """\
        from asyncio import *
        ERRORS = (OSError, KeyError)
        """
    )
    assert list(bindings.visible_names()) == []


def test_last_names_keeps_the_last_part_of_each_qualified_name():
    assert last_names(["trio.Cancelled", "asyncio.exceptions.CancelledError", "fail"]) == [
        "Cancelled",
        "CancelledError",
        "fail",
    ]


# -- Catch ---------------------------------------------------------------------------------------


def test_a_bare_catch_catches_everything_and_cancellation():
    catch = Catch(bare=True)
    assert (catch.catches_everything, catch.catches_cancellation) == (True, True)


def test_a_base_exception_catch_catches_everything_and_cancellation():
    catch = Catch()
    catch.base_exception = True
    assert (catch.catches_everything, catch.catches_cancellation) == (True, True)


def test_a_catch_naming_cancellation_catches_cancellation_but_not_everything():
    catch = Catch()
    catch.names_cancellation = True
    assert (catch.catches_everything, catch.catches_cancellation) == (False, True)


def test_an_exception_catch_catches_neither_everything_nor_cancellation():
    catch = Catch()
    catch.exception = True
    assert (catch.catches_everything, catch.catches_cancellation) == (False, False)


def test_a_futures_cancelled_error_catch_does_not_catch_cancellation():
    catch = Catch()
    catch.futures_cancelled = True
    assert catch.catches_cancellation is False


def test_catch_repr_lists_its_flags():
    catch = Catch()
    catch.timeout = True
    catch.builtin_timeout = True
    assert repr(catch) == "Catch(timeout, builtin_timeout)"


# -- Vocabulary.catch_of -------------------------------------------------------------------------

CANCELLATION_SPELLINGS = [
    ("import asyncio", "asyncio.CancelledError"),
    ("import asyncio as aio", "aio.CancelledError"),
    ("import asyncio.exceptions", "asyncio.exceptions.CancelledError"),
    ("import asyncio.exceptions as aexc", "aexc.CancelledError"),
    ("from asyncio import CancelledError", "CancelledError"),
    ("from asyncio import CancelledError as CE", "CE"),
    ("from asyncio.exceptions import CancelledError", "CancelledError"),
    ("from asyncio import exceptions", "exceptions.CancelledError"),
    ("from asyncio import *", "CancelledError"),
    ("import asyncio\nCE = asyncio.CancelledError", "CE"),
]


def test_a_bare_except_is_bare():
    assert caught("", None) == {"bare"}


def test_base_exception_catches_base_exception():
    assert caught("", "BaseException") == {"base_exception"}


def test_exception_catches_exception():
    assert caught("", "Exception") == {"exception"}


@pytest.mark.parametrize("source, exception_type", CANCELLATION_SPELLINGS)
def test_every_spelling_of_cancelled_error_names_cancellation(source, exception_type):
    assert caught(source, exception_type) == {"names_cancellation"}


def test_cancelled_error_of_another_module_does_not_name_cancellation():
    assert caught("import trio", "trio.CancelledError") == frozenset()


def test_cancelled_error_of_a_relative_import_does_not_name_cancellation():
    assert caught("from .compat import CancelledError", "CancelledError") == frozenset()


def test_a_tuple_naming_cancelled_error_names_cancellation():
    assert caught("import asyncio", "(ValueError, asyncio.CancelledError)") == {
        "names_cancellation"
    }


def test_a_tuple_sets_the_flag_of_every_element():
    assert caught("", "(Exception, BaseException)") == {"exception", "base_exception"}


def test_a_tuple_alias_naming_cancelled_error_names_cancellation():
    source = """\
        import asyncio
        ERRORS = (OSError, asyncio.CancelledError)
    """
    assert caught(source, "ERRORS") == {"names_cancellation"}


def test_the_builtin_timeout_error_is_a_builtin_timeout():
    assert caught("", "TimeoutError") == {"timeout", "builtin_timeout"}


@pytest.mark.parametrize(
    "source, exception_type",
    [
        ("import asyncio", "asyncio.TimeoutError"),
        ("from asyncio import TimeoutError", "TimeoutError"),
        ("import asyncio.exceptions", "asyncio.exceptions.TimeoutError"),
        ("from asyncio.exceptions import TimeoutError as TE", "TE"),
    ],
)
def test_asyncio_timeout_error_is_an_asyncio_timeout(source, exception_type):
    assert caught(source, exception_type) == {"timeout", "asyncio_timeout"}


def test_concurrent_futures_timeout_error_is_a_timeout_of_neither_kind():
    assert caught("import concurrent.futures", "concurrent.futures.TimeoutError") == {"timeout"}


def test_asyncio_and_builtin_timeout_errors_together_are_both():
    assert caught("import asyncio", "(asyncio.TimeoutError, TimeoutError)") == {
        "timeout",
        "asyncio_timeout",
        "builtin_timeout",
    }


def test_a_timeout_error_with_fallback_meanings_is_both():
    source = """\
        try:
            from asyncio import TimeoutError
        except ImportError:
            from builtins import TimeoutError
    """
    assert caught(source, "TimeoutError") == {"timeout", "asyncio_timeout", "builtin_timeout"}


@pytest.mark.parametrize(
    "source, exception_type",
    [
        ("import concurrent.futures", "concurrent.futures.CancelledError"),
        ("from concurrent.futures import CancelledError", "CancelledError"),
        ("import concurrent.futures._base", "concurrent.futures._base.CancelledError"),
        ("import asyncio", "asyncio.futures.CancelledError"),
    ],
)
def test_futures_cancelled_error_is_not_the_cancellation(source, exception_type):
    assert caught(source, exception_type) == {"futures_cancelled"}


def test_a_configured_cancellation_name_names_cancellation():
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",))
    assert caught("import curio", "curio.TaskCancelled", settings) == {"names_cancellation"}


def test_a_configured_cancellation_name_imported_from_its_module_names_cancellation():
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",))
    assert caught("from curio import TaskCancelled", "TaskCancelled", settings) == {"names_cancellation"}


def test_an_unconfigured_cancellation_name_does_not_name_cancellation():
    assert caught("import curio", "curio.TaskCancelled") == frozenset()


@pytest.mark.parametrize(
    "source, exception_type",
    [
        ("import trio", "trio.Cancelled"),
        ("from trio import Cancelled", "Cancelled"),
        ("import anyio", "anyio.get_cancelled_exc_class()"),
        ("from anyio import get_cancelled_exc_class as cancelled", "cancelled()"),
    ],
)
def test_trio_and_anyio_cancellation_names_cancellation_by_default(source, exception_type):
    assert caught(source, exception_type) == {"names_cancellation"}


def test_configuring_a_cancellation_name_keeps_asyncios():
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",))
    assert caught("import asyncio", "asyncio.CancelledError", settings) == {"names_cancellation"}


def test_is_cancelled_error_follows_the_configured_names():
    settings = Settings(extra_cancelled_names=("curio.TaskCancelled",))
    vocabulary = vocabulary_of("import curio, asyncio", settings)
    assert vocabulary.is_cancelled_error(cst.parse_expression("curio.TaskCancelled")) is True
    assert vocabulary.is_cancelled_error(cst.parse_expression("asyncio.TimeoutError")) is False


# -- Vocabulary.suppression_of -------------------------------------------------------------------


def suppression(source: str, settings: Settings = Settings()):
    found = vocabulary_of(source, settings).suppression_of(with_statement(source))
    if found is None:
        return None
    catch, suppressed = found
    return flags(catch), [code(node) for node in suppressed]


@pytest.mark.parametrize(
    "imports, call",
    [
        ("import contextlib", "contextlib.suppress"),
        ("import contextlib as cl", "cl.suppress"),
        ("from contextlib import suppress", "suppress"),
        ("from contextlib import suppress as ignoring", "ignoring"),
        ("from contextlib import *", "suppress"),
    ],
)
def test_contextlib_suppress_in_every_spelling_suppresses(imports, call):
    source = f"import asyncio\n{imports}\nwith {call}(asyncio.CancelledError):\n    pass\n"
    assert suppression(source) == ({"names_cancellation"}, ["asyncio.CancelledError"])


def test_a_with_without_a_suppressor_suppresses_nothing():
    assert suppression("with open(path):\n    pass\n") is None


def test_a_suppress_of_another_module_suppresses_nothing():
    source = "from mylib import suppress\nwith suppress(Exception):\n    pass\n"
    assert suppression(source) is None


def test_a_suppress_that_is_not_called_suppresses_nothing():
    source = "import contextlib\nwith contextlib.suppress as s:\n    pass\n"
    assert suppression(source) is None


def test_a_suppress_without_arguments_suppresses_no_exception():
    source = "import contextlib\nwith contextlib.suppress():\n    pass\n"
    assert suppression(source) == (frozenset(), [])


def test_suppression_collects_the_arguments_of_every_suppressor_and_expands_tuple_aliases():
    source = """\
        import asyncio
        from contextlib import suppress
        ERRORS = (OSError, asyncio.CancelledError)
        with open(path), suppress(KeyError), suppress(ERRORS, TimeoutError):
            pass
    """
    assert suppression(source) == (
        {"names_cancellation", "timeout", "builtin_timeout"},
        ["KeyError", "OSError", "asyncio.CancelledError", "TimeoutError"],
    )


def test_a_configured_suppressor_suppresses():
    settings = Settings(extra_suppressors=("mylib.ignoring",))
    source = "from mylib import ignoring\nwith ignoring(BaseException):\n    pass\n"
    assert suppression(source, settings) == ({"base_exception"}, ["BaseException"])


def test_an_unconfigured_suppressor_suppresses_nothing():
    source = "from mylib import ignoring\nwith ignoring(BaseException):\n    pass\n"
    assert suppression(source) is None


# -- timeout managers, wait_for, never-returning calls -------------------------------------------


def is_timeout_manager(source: str, expression: str, settings: Settings = Settings()) -> bool:
    return vocabulary_of(source, settings).is_timeout_manager(cst.parse_expression(expression))


@pytest.mark.parametrize(
    "source, expression",
    [
        ("import asyncio", "asyncio.timeout(1)"),
        ("import asyncio", "asyncio.timeout_at(deadline)"),
        ("from asyncio import timeout", "timeout(1)"),
        ("import asyncio.timeouts", "asyncio.timeouts.timeout(1)"),
        ("import async_timeout", "async_timeout.timeout(1)"),
        ("from async_timeout import timeout_at", "timeout_at(deadline)"),
        (
            "try:\n    from asyncio import timeout\nexcept ImportError:\n"
            "    from async_timeout import timeout\n",
            "timeout(1)",
        ),
    ],
)
def test_a_timeout_manager_call_is_a_timeout_manager(source, expression):
    assert is_timeout_manager(source, expression) is True


def test_a_timeout_manager_that_is_not_called_is_no_timeout_manager():
    assert is_timeout_manager("import asyncio", "asyncio.timeout") is False


def test_an_unbound_timeout_is_no_timeout_manager():
    assert is_timeout_manager("", "timeout(1)") is False


def test_a_timeout_of_another_module_is_no_timeout_manager():
    assert is_timeout_manager("import trio", "trio.timeout(1)") is False


def test_a_configured_timeout_manager_is_a_timeout_manager():
    settings = Settings(extra_timeout_managers=("anyio.fail_after",))
    assert is_timeout_manager("import anyio", "anyio.fail_after(1)", settings) is True


def is_wait_for(source: str, expression: str) -> bool:
    return vocabulary_of(source).is_wait_for(cst.parse_expression(expression))


@pytest.mark.parametrize(
    "source, expression",
    [
        ("import asyncio", "asyncio.wait_for(f(), 1)"),
        ("import asyncio as aio", "aio.wait_for(f(), 1)"),
        ("from asyncio import wait_for", "wait_for(f(), 1)"),
        ("import asyncio.tasks", "asyncio.tasks.wait_for(f(), 1)"),
        ("from asyncio import *", "wait_for(f(), 1)"),
    ],
)
def test_asyncio_wait_for_in_every_spelling_is_wait_for(source, expression):
    assert is_wait_for(source, expression) is True


def test_an_unbound_wait_for_is_not_wait_for():
    assert is_wait_for("", "wait_for(f(), 1)") is False


def test_wait_for_that_is_not_called_is_not_wait_for():
    assert is_wait_for("import asyncio", "asyncio.wait_for") is False


def test_a_wait_for_of_another_module_is_not_wait_for():
    assert is_wait_for("from mylib import wait_for", "wait_for(f(), 1)") is False


NEVER_RETURNING_PRELUDE = """\
import os
import sys
import typing
from typing import NoReturn


def fail() -> NoReturn:
    raise SystemExit


def stop() -> typing.Never:
    raise SystemExit


def quoted() -> "NoReturn":
    raise SystemExit


def qualified() -> "typing.NoReturn":
    raise SystemExit


async def afail() -> NoReturn:
    raise SystemExit


def returns() -> None:
    pass


def outer():
    def inner() -> NoReturn:
        raise SystemExit
"""


def is_never_returning_call(expression: str, settings: Settings = Settings()) -> bool:
    vocabulary = vocabulary_of(NEVER_RETURNING_PRELUDE, settings)
    return vocabulary.is_never_returning_call(cst.parse_expression(expression))


def test_never_returning_functions_are_the_module_functions_annotated_noreturn_or_never():
    module = parse(NEVER_RETURNING_PRELUDE)
    found = never_returning_functions(module, collect_module_bindings(module))
    assert found == {"fail", "stop", "quoted", "qualified", "afail"}


def test_a_noreturn_annotation_not_imported_from_typing_is_not_never_returning():
    source = """\
        from mylib import NoReturn
        def fail() -> NoReturn:
            raise SystemExit
    """
    module = parse(source)
    assert never_returning_functions(module, collect_module_bindings(module)) == frozenset()


def test_a_typing_extensions_never_annotation_is_never_returning():
    source = """\
        import typing_extensions
        def fail() -> typing_extensions.Never:
            raise SystemExit
    """
    module = parse(source)
    assert never_returning_functions(module, collect_module_bindings(module)) == {"fail"}


@pytest.mark.parametrize(
    "expression",
    ["sys.exit(1)", "os._exit(0)", "os.abort()", "fail()", "stop()", "quoted()", "qualified()"],
)
def test_a_never_returning_call_is_never_returning(expression):
    assert is_never_returning_call(expression) is True


def test_an_awaited_never_returning_coroutine_call_is_never_returning():
    assert is_never_returning_call("await afail()") is True


@pytest.mark.parametrize(
    "expression", ["returns()", "inner()", "sys.exit", "print('x')", "exit()", "self.fail()"]
)
def test_other_calls_are_not_never_returning(expression):
    assert is_never_returning_call(expression) is False


def test_a_configured_never_returning_function_is_never_returning():
    settings = Settings(extra_never_returning=("os.kill",))
    assert is_never_returning_call("os.kill(pid, 9)", settings) is True


# -- later statements rebind a name -----------------------------------------------------------------
def test_an_alias_in_a_fallback_branch_adds_a_meaning_without_hiding_the_primary():
    source = """\
        import sys, asyncio, concurrent.futures
        if sys.version_info >= (3, 8):
            CE = asyncio.CancelledError
        else:
            CE = concurrent.futures.CancelledError
    """
    assert meanings(source, "CE") == {
        "asyncio.CancelledError",
        "concurrent.futures.CancelledError",
    }


def test_a_tuple_alias_in_a_fallback_branch_adds_its_elements():
    source = """\
        import asyncio
        try:
            ERRORS = (OSError,)
        except ImportError:
            ERRORS = (asyncio.CancelledError,)
    """
    assert expanded(bindings_of(source), "ERRORS") == ["OSError", "asyncio.CancelledError"]


def test_a_relative_import_binds_its_names_with_no_known_meaning():
    assert meanings("from .compat import TimeoutError\n", "TimeoutError") == NOTHING
    assert meanings("import asyncio\nfrom .compat import asyncio\n", "asyncio") == NOTHING


def test_a_relative_import_in_a_fallback_branch_keeps_the_primary_meaning():
    source = """\
        try:
            from asyncio import timeout
        except ImportError:
            from .compat import timeout
    """
    assert meanings(source, "timeout") == {"asyncio.timeout"}


def test_a_tuple_assigned_after_an_import_of_the_same_name_replaces_it():
    source = "import asyncio\nfrom errors import ERRORS\nERRORS = (OSError, asyncio.CancelledError)\n"
    assert expanded(bindings_of(source), "ERRORS") == ["OSError", "asyncio.CancelledError"]


def test_assigning_an_unknown_value_ends_an_alias():
    source = "import asyncio\nX = asyncio.CancelledError\nX = make_error()\n"
    assert meanings(source, "X") == NOTHING
    source = "import asyncio\nX = asyncio.CancelledError\nX = MyError\n"
    assert meanings(source, "X") == NOTHING


EXIT_IMPORTS = """
import asyncio
import concurrent.futures
from asyncio import CancelledError as Stop
"""


@pytest.mark.parametrize(
    "test, expected",
    [
        ("exc_type is asyncio.CancelledError", True),
        ("asyncio.CancelledError is exc_type", True),
        ("exc_type == Stop", True),
        ("exc_type in (KeyboardInterrupt, asyncio.CancelledError)", True),
        ("issubclass(exc_type, (OSError, Stop))", True),
        ("isinstance(exc, [asyncio.CancelledError])", True),
        ("exc_type is asyncio.CancelledError and self._expired", True),
        ("exc_type is Stop or issubclass(exc_type, Stop)", True),
        ("exc_type is not asyncio.CancelledError", False),
        ("not isinstance(exc, asyncio.CancelledError)", False),
        ("exc_type is not Stop or not self._expired", False),
        ("exc_type is asyncio.CancelledError or self._expired", None),
        ("exc_type is not Stop and self._expired", None),
        ("exc_type is concurrent.futures.CancelledError", None),
        ("other is asyncio.CancelledError", None),
        ("isinstance(other, asyncio.CancelledError)", None),
        ("exc_type is None", None),
        ("self._expired", None),
    ],
)
def test_what_a_test_says_of_the_exception_being_the_cancellation(test, expected):
    vocabulary = vocabulary_of(EXIT_IMPORTS)
    names = {"exc_type", "exc"}
    assert vocabulary.tests_cancellation(cst.parse_expression(test), names) is expected


def test_a_shadowed_isinstance_tells_nothing():
    vocabulary = vocabulary_of(EXIT_IMPORTS + "from checks import isinstance\n")
    test = cst.parse_expression("isinstance(exc, asyncio.CancelledError)")
    assert vocabulary.tests_cancellation(test, {"exc"}) is None


@pytest.mark.parametrize(
    "raised, expected",
    [
        ("asyncio.CancelledError", True),
        ("Stop('closed')", True),
        ("concurrent.futures.CancelledError()", False),
        ("TimeoutError()", False),
        ("exc", False),
    ],
)
def test_a_new_cancellation_is_a_cancellation_class_or_its_call(raised, expected):
    vocabulary = vocabulary_of(EXIT_IMPORTS)
    assert vocabulary.is_new_cancellation(cst.parse_expression(raised)) is expected
    assert vocabulary.is_new_cancellation(None) is False
