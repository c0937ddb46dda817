"""Importing ``acids-rave`` on dlwa's numpy 2 / scipy 1.17 stack.

acids-rave 2.3.1 was written against scipy 1.10. Two things moved since, both in its PQMF
filter design (``rave.pqmf``): ``scipy.signal.kaiser`` now lives in ``scipy.signal.windows``,
and ``firwin`` lost its ``nyq`` argument (now ``fs``) while ``kaiserord`` stopped accepting
the 1-element arrays that ``scipy.optimize.fmin`` passes. :func:`import_rave` puts the
window back and replaces ``kaiser_filter`` with the same design in today's API, so that the
filters (and so trained models) are the ones acids-rave computes with its own scipy.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

INSTALL_HINT = "install the RAVE training stack first: bash scripts/install-rave.sh"


class RaveNotInstalled(ImportError):
    """The optional acids-rave stack is missing; the message says how to install it."""


def _kaiser_filter(wc: Any, atten: float, N: int | None = None) -> Any:
    """A Kaiser-window low-pass FIR at angular cutoff ``wc`` (as acids-rave's, scipy>=1.14)."""
    import numpy as np
    from scipy.signal import firwin, kaiserord

    wc = float(np.asarray(wc).reshape(-1)[0])
    order, beta = kaiserord(atten, wc / np.pi)
    order = 2 * (order // 2) + 1  # odd, so the filter is symmetric about a sample
    return firwin(N if N is not None else order, wc, window=("kaiser", beta), scale=False,
                  fs=2 * np.pi)


def import_rave() -> ModuleType:
    """``import rave`` (acids-rave) with the scipy shims applied; raises RaveNotInstalled."""
    import scipy.signal
    import scipy.signal.windows

    if not hasattr(scipy.signal, "kaiser"):
        scipy.signal.kaiser = scipy.signal.windows.kaiser
    try:
        rave = importlib.import_module("rave")
        pqmf = importlib.import_module("rave.pqmf")
    except ModuleNotFoundError as error:
        raise RaveNotInstalled(f"acids-rave is not installed ({error.name} is missing): "
                               f"{INSTALL_HINT}") from None
    pqmf.kaiser_filter = _kaiser_filter
    return rave
