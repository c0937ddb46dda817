"""Write ``pd_patches/rave~-help.pd`` (run from the repository root).

    .venv/bin/python scripts/make_rave_help_patch.py

Uses the small patch writer of ``scripts/make_rave_patch.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, "scripts")
from make_rave_patch import IEM, Canvas

c = Canvas("#N canvas 40 40 1240 780 12;")
c.obj(1080, 20, "declare -lib py")
c.text(20, 20, "[rave~ <model> [method] [chunk]] - any nn~-compatible model (RAVE \\, or one made with the nn-tilde package) on Pd's signals \\, live. <model>: guitar (checkpoints/rave_guitar) or a .ts file or folder \\, relative to the patch. [method]: forward (default) \\, encode \\, decode or any the model has. [chunk]: samples per call \\, rounded up to a multiple of the model's ratio (default about 1024). Latency: two chunks \\, plus the resampling when Pd's rate is not the model's (the model's own delay comes on top \\, as in nn~)., f 130")
c.text(20, 130, "inlets: one signal per input channel of the method (encode: audio \\, decode: one per latent dimension) - messages go to the leftmost inlet (or the rightmost \\, Python's). outlets: one signal per output channel \\, then one replies outlet (loaded \\, latency \\, underruns \\, done \\, attribute \\, methods \\, channels \\, ratios \\, error)., f 130")
c.text(20, 200, "1. DSP on \\, a source")
c.obj(20, 230, f"tgl 19 0 \\$0-dsp empty DSP 24 10 0 12 {IEM} 0 1")
c.obj(120, 230, f"tgl 19 0 \\$0-mic empty microphone 24 10 0 12 {IEM} 0 1")
c.text(20, 265, "or a test tone (Hz):")
tone_hz = c.box("floatatom", 180, 265, "5 50 2000 1 - - - 0")
osc = c.obj(20, 300, "osc~ 196")
c.wire(tone_hz, 0, osc)
oscg = c.obj(20, 330, "*~ 0.3")
c.wire(osc, 0, oscg)
adc = c.obj(120, 300, "adc~ 1")
mic = c.obj(120, 330, "*~")
c.wire(adc, 0, mic)
rmic = c.obj(200, 300, "r \\$0-mic")
c.wire(rmic, 0, mic, 1)
rmsg = c.obj(200, 370, "r \\$0-to-rave")
obj = c.obj(20, 400, "rave~ guitar forward")
c.wire(oscg, 0, obj)
c.wire(mic, 0, obj)
c.wire(rmsg, 0, obj)
gain = c.obj(20, 450, "*~ 0.5")
c.wire(obj, 0, gain)
dac = c.obj(20, 480, "dac~")
c.wire(gain, 0, dac)
c.wire(gain, 0, dac, 1)
route = c.obj(260, 450, "route latency")
c.wire(obj, 1, route)
lat = c.obj(260, 480, "unpack f f")
c.wire(route, 0, lat)
lms = c.box("floatatom", 260, 510, "6 0 0 1 latency_ms - - 0")
c.wire(lat, 1, lms)
pr = c.obj(400, 580, "print rave~")
ru = c.obj(260, 550, "route underruns")
c.wire(route, 1, ru)
un = c.box("floatatom", 260, 580, "6 0 0 1 underruns - - 0")
c.wire(ru, 0, un)
c.wire(ru, 1, pr)
rdsp = c.obj(20, 540, "r \\$0-dsp")
dspm = c.msg(20, 570, "\\; pd dsp \\$1")
c.wire(rdsp, 0, dspm)
send = c.obj(640, 575, "s \\$0-to-rave")
msgs = [("load guitar", "a name or .ts file (the old plays until it is ready)"),
        ("reload", "load the same file again (e.g. after a new export)"),
        ("enable 0", "0: silence \\, and no time spent on the model"),
        ("enable 1", "1: play (default)"),
        ("info", "methods \\, channels \\, ratios \\, attributes \\, latency"),
        ("get learn_target", "replies attribute <name> <value...>"),
        ("set learn_target 1", "set a model attribute (typed as its setter says)"),
        ("method encode", "same channels only (here an error: latents)"),
        ("chunk 3072", "samples per chunk from the next DSP start"),
        ("latency", "replies latency <samples> <ms>"),
        ("unload", "silence"),
        ("status", "settings and the time per chunk"),
        ("help", "every message")]
for i, (m, t) in enumerate(msgs):
    y = 200 + 28 * i
    box = c.msg(640, y, m)
    c.wire(box, 0, send)
    c.text(830, y, t + ", f 57")
c.text(20, 610, "encode and decode: one signal per latent dimension between them - scale \\, bias or replace them (see rave.pd)., f 80")
enc = c.obj(20, 650, "rave~ guitar encode")
dec = c.obj(20, 690, "rave~ guitar decode")
c.wire(oscg, 0, enc)
from dlwa.rave.model import find_model, read_info

for i in range(read_info(find_model("guitar")).methods["encode"].out_channels):
    c.wire(enc, i, dec, i)  # one wire per latent dimension
c.text(20, 730, "see rave.pd for the whole instrument: file or microphone \\, the two paths \\, latent sliders \\, dry/wet aligned by the latency \\, a recorder. dlwa stream rave runs the same stream on files \\, and dlwa train rave trains your own., f 165")
Path("pd_patches/rave~-help.pd").write_text(c.text_out())
