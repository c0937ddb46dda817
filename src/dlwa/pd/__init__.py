"""dlwa's Pd objects: the one module patches import, as ``[pyext. dlwa.pd <object>]``.

Each object is a class exported here under its Pd name. Importing this module is cheap:
torch and the models are imported only when an object loads one. Inside Pd the classes
run on our external's ``pyext`` module; elsewhere on the headless stand-in
(``dlwa.pd.standin``); ``dlwa.pd._host`` decides which.

Objects:
    tone: renders decaying harmonic tones into arrays (the bridge demo).
    melody_rnn: AI Duet, answers a played phrase with a MelodyRNN continuation.
    timbre_transfer: DDSP timbre transfer from one array into another.
    ddsp_stream: live DDSP timbre transfer of a signal (the abstraction ``[ddsp~]``).
    gansynth: GANSynth notes, interpolations and hallucinations from latents in arrays.
    halluseq: the HALLU sequencer, a path through a GANSpace rendered as one sound.
    samplernn: SampleRNN audio grown sample by sample into arrays.
    rave_stream: an nn~-compatible model (RAVE) on signals (``[rave~]``, which the ``py``
        library registers as ``[pyext~ dlwa.pd rave_stream]``).
"""

from dlwa.pd._host import IN_PD
from dlwa.pd.base import PdObject
from dlwa.pd.ddsp_stream import ddsp_stream
from dlwa.pd.gansynth import gansynth
from dlwa.pd.halluseq import halluseq
from dlwa.pd.melody_rnn import melody_rnn
from dlwa.pd.rave import rave_stream
from dlwa.pd.samplernn import samplernn
from dlwa.pd.timbre_transfer import timbre_transfer
from dlwa.pd.tone import tone

__all__ = ["IN_PD", "PdObject", "ddsp_stream", "gansynth", "halluseq", "melody_rnn", "rave_stream",
           "samplernn",
           "timbre_transfer", "tone"]
