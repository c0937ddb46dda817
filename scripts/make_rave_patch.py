"""Write ``pd_patches/rave.pd`` for a model with ``--latents`` latent dimensions.

The encode → scale and bias → decode path needs one signal wire per latent dimension, so
the patch depends on the shipped model's latent size; rerun this after exporting a model
with another one::

    .venv/bin/python scripts/make_rave_patch.py --latents 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

IEM = "#fcfcfc #000000 #000000"


class Canvas:
    """A Pd canvas being written: boxes numbered in order, connections by number."""

    def __init__(self, header: str) -> None:
        self.lines = [header]
        self.count = 0
        self.wires: list[str] = []

    def box(self, kind: str, x: int, y: int, text: str) -> int:
        self.lines.append(f"#X {kind} {x} {y} {text};")
        self.count += 1
        return self.count - 1

    def obj(self, x: int, y: int, text: str) -> int:
        return self.box("obj", x, y, text)

    def msg(self, x: int, y: int, text: str) -> int:
        return self.box("msg", x, y, text)

    def text(self, x: int, y: int, text: str) -> None:
        self.box("text", x, y, text)

    def wire(self, a: int, outlet: int, b: int, inlet: int = 0) -> None:
        self.wires.append(f"#X connect {a} {outlet} {b} {inlet};")

    def sub(self, sub: Canvas, x: int, y: int, name: str) -> int:
        self.lines += sub.lines + sub.wires
        return self.box("restore", x, y, f"pd {name}")

    def text_out(self) -> str:
        return "\n".join(self.lines + self.wires) + "\n"


def scale_and_bias(n: int) -> Canvas:
    c = Canvas("#N canvas 120 80 760 420 scale_and_bias 0;")
    c.text(20, 10, "each latent dimension: z * scale + bias (the sliders of step 4), f 80")
    for i in range(n):
        x = 20 + i * 90
        inlet = c.obj(x, 50, "inlet~")
        mul = c.obj(x, 100, "*~ 1")
        add = c.obj(x, 150, "+~ 0")
        out = c.obj(x, 300, "outlet~")
        scale = c.obj(x, 200, f"r \\$0-scale{i + 1}")
        bias = c.obj(x, 240, f"r \\$0-bias{i + 1}")
        c.wire(inlet, 0, mul)
        c.wire(mul, 0, add)
        c.wire(add, 0, out)
        c.wire(scale, 0, mul, 1)
        c.wire(bias, 0, add, 1)
    return c


def internals(n: int) -> Canvas:
    c = Canvas("#N canvas 60 60 1200 900 internals 0;")
    dsp = c.obj(20, 20, "r \\$0-dsp")
    c.wire(dsp, 0, c.msg(20, 50, "\\; pd dsp \\$1"))
    # the input file, read at its own rate and looped
    c.wire(c.obj(20, 90, "r \\$0-open"), 0, opened := c.obj(20, 120, "openpanel"))
    c.wire(opened, 0, c.obj(20, 150, "s \\$0-file"))
    files = c.obj(20, 190, "r \\$0-file")
    c.wire(files, 0, a := c.obj(20, 220, "list append \\$0-file"))
    c.wire(a, 0, b := c.obj(20, 250, "list prepend read -resize"))
    c.wire(b, 0, t := c.obj(20, 280, "list trim"))
    c.wire(t, 0, sfr := c.obj(20, 310, "soundfiler"))
    c.wire(sfr, 1, info := c.obj(200, 310, "unpack f f f f s"))
    c.wire(sfr, 0, ff := c.obj(300, 250, "t f f"))
    c.wire(info, 0, hz := c.obj(240, 280, "expr \\$f2 / max(\\$f1 \\, 1)"), 1)
    c.wire(ff, 1, c.obj(440, 280, "s \\$0-file-n"))
    c.wire(ff, 0, hz)
    c.wire(hz, 0, c.obj(400, 310, "s \\$0-loop-hz"))
    c.text(20, 350, "play the file at its own rate \\, looping")
    c.wire(c.obj(20, 380, "r \\$0-play"), 0, pf := c.obj(20, 410, "t f f"))
    c.wire(pf, 0, sel := c.obj(20, 440, "sel 0"))
    c.wire(sel, 0, zero := c.msg(20, 470, "0"))
    c.wire(sel, 1, tb := c.obj(90, 470, "t b b"))
    c.wire(tb, 0, held := c.obj(90, 500, "f"))
    c.wire(tb, 1, phase0 := c.msg(150, 500, "0"))
    c.wire(pf, 1, pk := c.obj(200, 410, "pack f 20"))
    c.wire(pk, 0, gate := c.obj(200, 440, "line~"))
    c.wire(zero, 0, ph := c.obj(20, 530, "phasor~"))
    c.wire(held, 0, ph)
    c.wire(phase0, 0, ph, 1)
    c.wire(ph, 0, mul := c.obj(20, 558, "*~ 0"))
    c.wire(mul, 0, read := c.obj(20, 586, "tabread4~ \\$0-file"))
    c.wire(read, 0, gated := c.obj(20, 614, "*~"))
    c.wire(gate, 0, gated, 1)
    c.wire(c.obj(150, 540, "r \\$0-loop-hz"), 0, held, 1)
    c.wire(c.obj(150, 570, "r \\$0-file-n"), 0, mul, 1)
    c.text(300, 350, "input: 0 microphone \\, 1 file (crossfaded)")
    c.wire(c.obj(300, 380, "r \\$0-input"), 0, it := c.obj(300, 410, "t f f"))
    c.wire(it, 0, is_mic := c.obj(300, 440, "== 0"))
    c.wire(it, 1, is_file := c.obj(400, 440, "== 1"))
    c.wire(is_mic, 0, p1 := c.obj(300, 470, "pack f 20"))
    c.wire(is_file, 0, p2 := c.obj(400, 470, "pack f 20"))
    c.wire(p1, 0, l1 := c.obj(300, 500, "line~"))
    c.wire(p2, 0, l2 := c.obj(400, 500, "line~"))
    c.wire(c.obj(300, 540, "adc~ 1"), 0, m1 := c.obj(300, 580, "*~"))
    c.wire(l1, 0, m1, 1)
    c.wire(gated, 0, m2 := c.obj(400, 580, "*~"))
    c.wire(l2, 0, m2, 1)
    sin = c.obj(300, 620, "s~ \\$0-in")
    c.wire(m1, 0, sin)
    c.wire(m2, 0, sin)
    # the path: enable the objects it needs, switch the others off (they then cost nothing)
    c.text(600, 20, "path 0: [rave~ forward] on \\, encode and decode off - path 1: the reverse, f 90")
    c.wire(c.obj(600, 50, "r \\$0-path"), 0, pt := c.obj(600, 80, "t f f f"))
    c.wire(pt, 2, inv := c.obj(600, 110, "== 0"))
    c.wire(inv, 0, en1 := c.msg(600, 140, "enable \\$1"))
    c.wire(en1, 0, c.obj(600, 170, "s \\$0-ctl-direct"))
    c.wire(pt, 1, en2 := c.msg(760, 140, "enable \\$1"))
    c.wire(en2, 0, c.obj(760, 170, "s \\$0-ctl-latent"))
    c.wire(pt, 0, c.obj(900, 110, "s \\$0-path-now"))
    # the model folder
    c.text(960, 250, "select model folder: load <folder>")
    c.wire(c.obj(820, 220, "r \\$0-folder"), 0, op := c.obj(820, 250, "openpanel 1"))
    c.wire(op, 0, lp := c.obj(820, 280, "list prepend load"))
    c.wire(lp, 0, lt := c.obj(820, 310, "list trim"))
    c.wire(lt, 0, c.obj(820, 340, "s \\$0-ctl"))
    # replies
    c.text(600, 380, "replies: latency and model shown on the main canvas - the rest printed, f 80")
    c.wire(c.obj(600, 410, "r \\$0-info"), 0, route := c.obj(600, 440, "route latency loaded done"))
    c.wire(route, 0, lat := c.obj(600, 480, "unpack f f"))
    c.wire(lat, 1, c.obj(680, 510, "s \\$0-latency-show"))
    c.wire(route, 1, sym := c.obj(900, 480, "list prepend symbol"))
    c.wire(sym, 0, st := c.obj(900, 510, "list trim"))
    c.wire(st, 0, c.obj(900, 540, "s \\$0-model-show"))
    c.wire(route, 3, ru := c.obj(600, 610, "route underruns"))
    c.wire(ru, 0, c.obj(600, 640, "s \\$0-underruns-show"))
    c.wire(ru, 1, c.obj(1060, 480, "print rave~"))
    # mix: dry delayed by the path's latency (two objects in a row on the latent path)
    c.text(20, 660, "mix: the dry input delayed by the path's latency \\, so dry and wet line up, f 80")
    c.wire(c.obj(20, 690, "r~ \\$0-direct~"), 0, wet := c.obj(20, 760, "*~"))
    c.wire(c.obj(120, 720, "r~ \\$0-latent~"), 0, wet)
    c.wire(c.obj(260, 660 + 30, "r~ \\$0-in"), 0, c.obj(260, 720, "delwrite~ \\$0-dry 2000"))
    c.wire(c.obj(380, 690, "r \\$0-latency-show"), 0, dmul := c.obj(380, 750, "*"))
    c.wire(c.obj(520, 690, "r \\$0-path-now"), 0, pb := c.obj(520, 720, "t b f"))
    c.wire(pb, 1, dms := c.obj(580, 750, "+ 1"))
    c.wire(dms, 0, dmul, 1)
    c.wire(pb, 0, dmul)
    c.wire(dmul, 0, dr := c.obj(200, 780, "delread~ \\$0-dry"))
    c.wire(dr, 0, dry := c.obj(200, 810, "*~"))
    c.wire(c.obj(620, 690, "r \\$0-wet"), 0, wt := c.obj(620, 720, "t f f"))
    c.wire(wt, 0, wp := c.obj(620, 750, "pack f 20"))
    c.wire(wp, 0, wl := c.obj(620, 780, "line~"))
    c.wire(wt, 1, inv2 := c.obj(760, 750, "expr 1 - \\$f1"))
    c.wire(inv2, 0, dp := c.obj(760, 780, "pack f 20"))
    c.wire(dp, 0, dline := c.obj(760, 810, "line~"))
    c.wire(wl, 0, wet, 1)
    c.wire(dline, 0, dry, 1)
    c.wire(wet, 0, vol := c.obj(20, 850, "*~"))
    c.wire(dry, 0, vol)
    c.wire(c.obj(900, 690, "r \\$0-volume"), 0, vp := c.obj(900, 720, "pack f 20"))
    c.wire(vp, 0, vl := c.obj(900, 750, "line~"))
    c.wire(vl, 0, vol, 1)
    c.wire(vol, 0, dac := c.obj(20, 890, "dac~"))
    c.wire(vol, 0, dac, 1)
    c.wire(vol, 0, rec := c.obj(90, 890, "dlwa-recorder~"))
    c.wire(vol, 0, rec, 1)
    # record what you hear and save it
    c.text(700, 850, "record (what you hear) and save")
    tw = c.obj(700, 1010, "tabwrite~ \\$0-out")
    c.wire(vol, 0, tw)
    c.wire(c.obj(700, 880, "r \\$0-record"), 0, rs := c.obj(700, 910, "sel 0"))
    c.wire(rs, 0, stop := c.msg(700, 940, "stop"))
    c.wire(stop, 0, tw)
    c.wire(rs, 1, start := c.msg(780, 940, "bang"))
    c.wire(start, 0, tw)
    c.wire(c.obj(900, 880, "r \\$0-save"), 0, sp := c.obj(900, 910, "savepanel"))
    c.wire(sp, 0, la := c.obj(900, 940, "list append \\$0-out"))
    c.wire(la, 0, wr := c.obj(900, 970, "list prepend write -wave -bytes 4"))
    c.wire(wr, 0, wt2 := c.obj(900, 1000, "list trim"))
    c.wire(wt2, 0, c.obj(900, 1030, "soundfiler"))
    # defaults and the demo
    c.text(20, 940, "defaults at load: the example file \\, file input \\, the direct path, f 80")
    lb = c.obj(20, 970, "loadbang")
    defaults = [("symbol rave-example.wav", "\\$0-file"), ("1", "\\$0-input-set"),
                ("0", "\\$0-path-set"), ("1", "\\$0-wet-set"), ("0.5", "\\$0-volume-set")]
    defaults += [(str(v), f"\\$0-{k}{i + 1}-set") for i in range(n)
                 for k, v in (("scale", 1), ("bias", 0))]
    trig = c.obj(20, 1000, "t " + " ".join(["b"] * len(defaults)))
    c.wire(lb, 0, trig)
    for i, (value, name) in enumerate(defaults):
        y = 1040 + 30 * i
        m = c.msg(120, y, value)
        c.wire(trig, len(defaults) - 1 - i, m)
        c.wire(m, 0, c.obj(420, y, f"s {name}"))
    y = 1060 + 30 * len(defaults)
    c.text(20, y, "the demo (dlwa demo rave): the example through the guitar model, f 80")
    demo = c.obj(20, y + 30, "r rave-demo")
    dt = c.obj(20, y + 60, "t b b b")
    c.wire(demo, 0, dt)
    for j, name in enumerate(("\\$0-play-set", "\\$0-input-set", "\\$0-dsp-set")):
        m = c.msg(20 + 160 * j, y + 90, "1")
        c.wire(dt, 2 - j, m)
        c.wire(m, 0, c.obj(20 + 160 * j, y + 120, f"s {name}"))
    return c


def patch(n: int) -> str:
    c = Canvas("#N canvas 30 30 1260 760 12;")
    c.text(20, 10, "RAVE live: play or sing into the microphone (or play a file) and hear it "
           "remade by a RAVE model. Follow the steps top to bottom. The object is [rave~] "
           "(see rave~-help.pd) \\, and any nn~ model (.ts) loads into it., f 120")
    c.obj(1100, 60, "declare -lib py")
    c.text(20, 60, "1. sound on \\, then choose the input")
    c.obj(20, 90, f"tgl 19 0 \\$0-dsp \\$0-dsp-set DSP 24 10 0 12 {IEM} 0 1")
    c.text(120, 90, "input:")
    c.obj(175, 92, f"hradio 19 1 0 2 \\$0-input \\$0-input-set empty 0 -8 0 12 {IEM} 1")
    c.text(220, 90, "mic | file")
    c.obj(320, 90, f"bng 19 250 50 0 \\$0-open empty open_file 24 10 0 12 {IEM}")
    c.obj(450, 90, f"tgl 19 0 \\$0-play \\$0-play-set play_file_(loops) 24 10 0 12 {IEM} 0 1")
    c.text(20, 130, "2. the model (the old one plays until the new one is ready), f 66")
    load = c.msg(20, 160, "load guitar")
    reload = c.msg(130, 160, "reload")
    c.obj(200, 160, f"bng 19 250 50 0 \\$0-folder empty other_model_folder 24 10 0 12 {IEM}")
    ctl = c.obj(20, 195, "s \\$0-ctl")
    c.wire(load, 0, ctl)
    c.wire(reload, 0, ctl)
    c.text(20, 235, "3. the path: direct (forward) or through the latent (encode \\, your "
           "changes \\, decode), f 86")
    c.obj(20, 265, f"hradio 19 1 0 2 \\$0-path \\$0-path-set empty 0 -8 0 12 {IEM} 0")
    c.text(70, 263, "direct | latent")
    c.text(20, 305, f"4. the latent (path 'latent'): scale and bias of each of its {n} "
           "dimensions, f 80")
    for i in range(n):
        y = 335 + 26 * i
        c.obj(20, y, f"hsl 128 19 0 2 0 0 \\$0-scale{i + 1} \\$0-scale{i + 1}-set "
              f"scale_z{i + 1} 135 9 0 12 {IEM} 0")
        c.obj(260, y, f"hsl 128 19 -3 3 0 0 \\$0-bias{i + 1} \\$0-bias{i + 1}-set "
              f"bias_z{i + 1} 135 9 0 12 {IEM} 0")
    y = 350 + 26 * n
    c.text(20, y, "5. mix and listen")
    c.box("floatatom", 20, y + 30, "4 0 1 1 wet_(0_dry_1_model) \\$0-wet-set \\$0-wet 0")
    c.box("floatatom", 260, y + 30, "4 0 1 1 volume \\$0-volume-set \\$0-volume 0")
    c.text(20, y + 70, "6. record what you hear and save it")
    c.obj(20, y + 100, f"tgl 19 0 \\$0-record \\$0-record-set record 24 10 0 12 {IEM} 0 1")
    c.obj(140, y + 100, f"bng 19 250 50 0 \\$0-save empty save_wav 24 10 0 12 {IEM}")
    # the objects
    c.text(640, 60, "what it reports")
    c.box("floatatom", 640, 90, "6 0 0 1 latency_ms \\$0-latency-show - 0")
    c.box("floatatom", 640, 120, "6 0 0 1 underruns \\$0-underruns-show - 0")
    c.box("symbolatom", 640, 150, "12 0 0 1 model \\$0-model-show - 0")
    c.obj(1000, 120, "array define \\$0-file 80000")
    c.obj(1000, 150, "array define \\$0-out 1440000")
    c.text(640, 200, "the objects: signal in -> [rave~ <model> <method>] -> signal out. "
           "encode gives one signal per latent dimension \\, decode takes them back., f 80")
    rin = c.obj(640, 260, "r~ \\$0-in")
    rctl = c.obj(780, 260, "r \\$0-ctl")
    rdirect = c.obj(880, 260, "r \\$0-ctl-direct")
    rlatent = c.obj(1040, 260, "r \\$0-ctl-latent")
    fwd = c.obj(640, 310, "rave~ guitar forward")
    c.obj(640, 350, "s~ \\$0-direct~")
    c.wire(fwd, 0, c.count - 1)
    enc = c.obj(640, 410, "rave~ guitar encode")
    sb = c.sub(scale_and_bias(n), 640, 470, "scale_and_bias")
    dec = c.obj(640, 530, "rave~ guitar decode")
    c.obj(640, 570, "s~ \\$0-latent~")
    c.wire(dec, 0, c.count - 1)
    info = c.obj(840, 350, "s \\$0-info")
    c.wire(rin, 0, fwd)
    c.wire(rin, 0, enc)
    for target in (fwd, enc, dec):
        c.wire(rctl, 0, target)
    c.wire(rdirect, 0, fwd)
    c.wire(rlatent, 0, enc)
    c.wire(rlatent, 0, dec)
    for i in range(n):
        c.wire(enc, i, sb, i)
        c.wire(sb, i, dec, i)
    c.wire(fwd, 1, info)
    c.wire(enc, n, info)
    c.wire(dec, 1, info)
    c.sub(internals(n), 640, 700, "internals")
    return c.text_out()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latents", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path("pd_patches/rave.pd"))
    args = parser.parse_args()
    args.out.write_text(patch(args.latents))
    print(f"wrote {args.out} ({args.latents} latent dimensions)")


if __name__ == "__main__":
    main()
