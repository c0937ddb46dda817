"""dlwa: deep-learning audio models as Pure Data objects.

Layers, lowest first: ``dlwa.audio`` (DSP functions), ``dlwa.<model>`` (PyTorch models,
training, import; knows nothing of Pd), ``dlwa.pd`` (the classes Pd loads through the
``pyext_py3`` external). See ``docs/architecture.md``.
"""

__version__ = "0.1.0"
