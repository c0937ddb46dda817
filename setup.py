"""Build dlwa's one C extension, SampleRNN's per-sample loop (the rest is in pyproject.toml).

It is compiled for the machine that installs dlwa (``-march=native``: SIMD for the
matrix-vector products); set ``DLWA_PORTABLE=1`` to build for any CPU of the architecture.
Without a C compiler the install still succeeds and generation uses its torch loop.
"""

import os
import platform

from setuptools import Extension, setup

flags = ["-O3", "-fopenmp-simd"]
if os.environ.get("DLWA_PORTABLE") != "1" and platform.machine() in ("x86_64", "AMD64"):
    flags.append("-march=native")

setup(ext_modules=[Extension("dlwa.samplernn._fast", ["src/dlwa/samplernn/_fast.c"],
                             extra_compile_args=flags, optional=True)])
