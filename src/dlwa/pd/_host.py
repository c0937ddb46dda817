"""Which ``pyext`` module dlwa's Pd classes run on, decided in this one place.

Inside Pd, our external ``pyext_py3`` provides the built-in module ``pyext``. Anywhere
else (pytest, scripts) that import fails and the headless stand-in ``dlwa.pd.standin``
takes its place, so the same classes run unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlwa.pd import standin as pyext
else:
    try:
        import pyext
    except ImportError:
        from dlwa.pd import standin as pyext

IN_PD: bool = pyext.__name__ == "pyext"
"""True when running inside Pd with the real external (the stand-in is ``dlwa.pd.standin``)."""

__all__ = ["IN_PD", "pyext"]
