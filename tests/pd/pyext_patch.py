"""The patch builder for the pyext_py3 integration tests (it lives in dlwa.pd_runner)."""

from dlwa.pd_runner import Patch

QUIT = ("\\; pd quit", -1, 0)

__all__ = ["QUIT", "Patch"]
