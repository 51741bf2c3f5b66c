"""One module per rule. Importing this package registers them all."""

from flake8_cancel.rules import (  # noqa: F401
    can101_cancelled_error_swallowed,
    can102_cancelled_error_reraise_partial,
    can103_bare_except_swallows_cancellation,
    can104_base_exception_swallows_cancellation,
    can201_timeout_caught_inside_timed_scope,
    can202_timeout_alias_mismatch,
)
