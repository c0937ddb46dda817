"""SampleRNN in PyTorch: PRiSM's three-tier model, training, fast generation, import.

See ``docs/samplernn.md``. Submodules import torch; ``dlwa.samplernn.cli`` does not.
"""
