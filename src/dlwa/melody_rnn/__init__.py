"""MelodyRNN (Magenta's basic_rnn, lookback_rnn and attention_rnn) in PyTorch.

Modules, in the shape every dlwa model package has:

- ``encoding``: Magenta-compatible melody encodings (one-hot, lookback, key) as arrays.
- ``model``: ``MelodyRnnConfig`` (Magenta's configurations in ``CONFIGS``) and ``MelodyRnn``.
- ``data``: melodies from MIDI files or the built-in Essen corpus, with a held-out split.
- ``train``: training with progress, checkpoints and resumption; ``evaluate``; a bigram
  baseline.
- ``generate``: ``load_generator`` and ``Generator.answer`` (primer, tempo, temperature,
  beam search); MIDI in and out. ``inference`` holds its NumPy step function.
- ``convert``: the ``.mag`` bundle importer (no TensorFlow).
- ``cli``: ``dlwa train|generate|eval|import melody_rnn``.

Nothing here imports Pd; the Pd object is ``dlwa.pd.melody_rnn``.
"""
