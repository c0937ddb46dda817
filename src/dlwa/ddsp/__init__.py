"""DDSP timbre transfer in PyTorch: DSP core, solo-instrument model, training, transfer, import.

See ``docs/ddsp.md``. Submodules import torch; ``dlwa.ddsp.cli`` does not.
"""
