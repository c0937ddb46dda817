"""GANSynth in PyTorch: spectral representation (spectral.py) and networks (model.py)."""
