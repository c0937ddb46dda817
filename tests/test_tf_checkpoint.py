"""The shared TensorFlow checkpoint reader on small inputs built here.

The readers are also checked end to end against files TensorFlow itself wrote, by the
importer tests (tests/ddsp/test_convert.py, tests/melody_rnn/test_melody_convert.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import cramjam
import numpy as np
import pytest

from dlwa import tf_checkpoint as tfc
from dlwa.tf_checkpoint import TFCheckpointError

# ----- writers (the inverse of the reader, just enough for these tests)


def enc_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def vint(number: int, value: int) -> bytes:
    return enc_varint(number << 3) + enc_varint(value)


def ld(number: int, payload: bytes) -> bytes:
    return enc_varint(number << 3 | 2) + enc_varint(len(payload)) + payload


def make_block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out, restarts, last = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        out += enc_varint(shared) + enc_varint(len(key) - shared) + enc_varint(len(value))
        out += key[shared:] + value
        last = key
    return bytes(out + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack(
        "<I", len(restarts)))


def snappy_literal(data: bytes) -> bytes:
    """A valid snappy stream of literals only (tag with 1 extra length byte)."""
    out = bytearray(enc_varint(len(data)))
    for i in range(0, len(data), 256):
        chunk = data[i:i + 256]
        out += bytes([60 << 2, len(chunk) - 1]) + chunk
    return bytes(out)


def real_snappy(data: bytes) -> bytes:
    """A raw snappy block made by a real snappy implementation (cramjam, in Rust)."""
    return bytes(cramjam.snappy.compress_raw(data))


def make_table(entries: list[tuple[bytes, bytes]], *, per_block: int = 3,
               restart_interval: int = 2,
               snappy: Callable[[bytes], bytes] | None = None) -> bytes:
    """A table file: data blocks of ``per_block`` entries (compressed with ``snappy``, if
    given), an index block and the footer."""
    out, index = bytearray(), []
    for i in range(0, len(entries), per_block):
        chunk = entries[i:i + per_block]
        block = make_block(chunk, restart_interval)
        if snappy:
            block = snappy(block)
        index.append((chunk[-1][0], enc_varint(len(out)) + enc_varint(len(block))))
        out += block + bytes([1 if snappy else 0]) + b"\0\0\0\0"
    index_block = make_block(index, 1)
    handle = enc_varint(len(out)) + enc_varint(len(index_block))
    out += index_block + b"\0\0\0\0\0"
    footer = (enc_varint(0) + enc_varint(0) + handle).ljust(40, b"\0")
    return bytes(out + footer + struct.pack("<Q", tfc.TABLE_MAGIC))


def shape_proto(*dims: int) -> bytes:
    return b"".join(ld(2, vint(1, d)) for d in dims)


# ----- wire format


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32 + 5, 2**63, 2**64 - 1])
def test_varint_round_trip(value):
    data = b"\x99" + enc_varint(value) + b"\x01"
    assert tfc.varint(data, 1) == (value, len(data) - 1)


def test_varint_multi_byte_and_64_bit():
    assert tfc.varint(b"\xac\x02", 0) == (300, 2)
    minus_one = b"\xff" * 9 + b"\x01"
    assert tfc.varint(minus_one, 0) == (2**64 - 1, 10)
    with pytest.raises(TFCheckpointError, match="truncated varint"):
        tfc.varint(b"\x80\x80", 0)
    with pytest.raises(TFCheckpointError, match="longer than 10 bytes"):
        tfc.varint(b"\xff" * 11, 0)


@pytest.mark.parametrize("bad", [
    ld(3, b"hello")[:-1],                      # a field running past the end
    enc_varint(2 << 3 | 1) + b"\0" * 7,        # a fixed64 one byte short
    enc_varint(1 << 3 | 3),                    # a group start that never ends
    vint(0, 5),                                # field number 0
])
def test_malformed_protobufs_are_errors_naming_the_file(tmp_path, bad):
    (tmp_path / "ck.index").write_bytes(make_table([(b"", vint(1, 1)), (b"w", bad)]))
    with pytest.raises(TFCheckpointError, match=r"ck\.index: malformed checkpoint"):
        tfc.read_tensor_bundle(tmp_path / "ck")
    meta = ld(1, ld(1, ld(1, b"w") + vint(3, 1)))
    with pytest.raises(TFCheckpointError, match="^v1: malformed checkpoint"):
        tfc.read_v1_checkpoint(make_table([(b"", meta), (b"w", bad)]), source="v1")


# ----- snappy and tables


def test_snappy_literals_and_copies():
    # "abc", copy 7 from 3 back (1-byte offset, overlapping), copy 4 from 10 back (2-byte).
    data = b"\x0e" + b"\x08abc" + b"\x0d\x03" + bytes([(4 - 1) << 2 | 2]) + b"\x0a\x00"
    assert tfc.snappy_decompress(data) == b"abcabcabcaabca"
    four_byte = b"\x06\x04xy" + bytes([(4 - 1) << 2 | 3]) + struct.pack("<I", 2)
    assert tfc.snappy_decompress(four_byte) == b"xyxyxy"
    long = bytes(range(100))
    assert tfc.snappy_decompress(snappy_literal(long)) == long


@pytest.mark.parametrize("bad, match", [
    (b"\x05\x08abc\x0d\x09", "copy 9 bytes back"),
    (b"\x09\x08abc", "holds 3 bytes, its header says 9"),
    (b"\x05\x10ab", "runs past the end"),
])
def test_corrupt_snappy_is_an_error(bad, match):
    with pytest.raises(TFCheckpointError, match=match):
        tfc.snappy_decompress(bad)


def snappy_elements(block: bytes) -> set[str]:
    """The kinds of element in a snappy block ("literal+<length bytes>", "copy<offset
    bytes>"), so that the tests below can show what they cover."""
    _, pos = tfc.varint(block, 0)
    kinds = set()
    while pos < len(block):
        tag, kind = block[pos], block[pos] & 3
        if kind == 0:
            extra = max(0, (tag >> 2) - 59)
            n = int.from_bytes(block[pos + 1:pos + 1 + extra], "little") if extra else tag >> 2
            kinds.add(f"literal+{extra}")
            pos += 1 + extra + n + 1
        else:
            width = (1, 2, 4)[kind - 1]
            kinds.add(f"copy{width}")
            pos += 1 + width
    return kinds


def _snappy_inputs() -> dict[str, bytes]:
    rng = np.random.default_rng(16)
    noise = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    words = [b"kernel", b"bias", b"rnn/", b"lstm", b"cell_", b"0", b"1", b"/", b"attention"]
    text = b"".join(words[i] for i in rng.integers(0, len(words), 40_000))
    chunk = noise[:5000]  # repeats 5000 bytes back: copies with 2-byte offsets
    weights = rng.normal(0, 0.1, 30_000).astype("<f4").tobytes()
    return {
        "empty": b"",
        "one byte": b"x",
        "incompressible": noise,
        "long run": b"\0" * 1_000_000,
        "short period run": b"ab" * 100_000 + b"abc" * 50_000,
        "words": text,
        "far repeats": chunk * 30,
        "noise between runs": b"".join(noise[i:i + 100] + bytes(100)
                                       for i in range(0, 20_000, 100)),
        "weights and zeros": weights + bytes(70_000) + weights,
        # Snappy compresses in 64 KiB fragments: lengths around the fragment boundaries.
        **{f"{n} bytes": (text * 4)[:n] for n in (65_535, 65_536, 65_537, 131_072, 131_073)},
    }


SNAPPY_INPUTS = _snappy_inputs()


@pytest.mark.parametrize("name", list(SNAPPY_INPUTS))
def test_snappy_reads_real_snappy(name):
    data = SNAPPY_INPUTS[name]
    block = real_snappy(data)
    assert tfc.snappy_decompress(block) == data


def test_real_snappy_inputs_cover_every_element_kind():
    kinds = set().union(*(snappy_elements(real_snappy(d)) for d in SNAPPY_INPUTS.values()))
    # Literals with 0, 1 and 2 length bytes; copies with 1- and 2-byte offsets. Snappy's
    # own compressor never writes 4-byte offsets (its fragments are 64 KiB), so those are
    # covered by the hand-made block of test_snappy_literals_and_copies.
    assert {"literal+0", "literal+1", "literal+2", "copy1", "copy2"} <= kinds
    assert len(real_snappy(SNAPPY_INPUTS["long run"])) < 60_000  # it did compress


def test_table_of_real_snappy_blocks_larger_than_a_fragment():
    rng = np.random.default_rng(5)
    entries = [(b"t%03d" % i, rng.normal(0, 1, 10_000 + 997 * i).astype("<f4").tobytes()
                + bytes(3_000)) for i in range(7)]
    table = make_table(entries, per_block=3, snappy=real_snappy)
    assert len(table) < sum(len(v) for _, v in entries)  # the blocks were compressed
    assert list(tfc.table_entries(table)) == entries


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 100])
def test_truncated_real_snappy_is_an_error(cut):
    block = real_snappy(SNAPPY_INPUTS["words"][:20_000])
    with pytest.raises(TFCheckpointError, match="snappy"):
        tfc.snappy_decompress(block[:-cut])


KEYS = [b"model/dense/bias", b"model/dense/kernel", b"model/dense_1/bias",
        b"model/dense_1/kernel", b"model/rnn/cell/bias", b"model/rnn/cell/kernel", b"z"]


@pytest.mark.parametrize("snappy", [None, snappy_literal, real_snappy])
def test_table_with_prefix_compressed_keys_across_restarts(snappy):
    entries = [(k, b"v%d" % i) for i, k in enumerate(KEYS)]
    block = make_block(entries, restart_interval=3)
    assert len(block) < sum(len(k) + len(v) for k, v in entries)  # prefixes were shared
    assert list(tfc.block_entries(block)) == entries
    table = make_table(entries, per_block=4, restart_interval=2, snappy=snappy)
    assert list(tfc.table_entries(table)) == entries


def test_bad_tables_are_errors():
    table = make_table([(k, b"x") for k in KEYS])
    with pytest.raises(TFCheckpointError, match="not a thing: 5 bytes"):
        list(tfc.table_entries(b"short", kind="thing"))
    with pytest.raises(TFCheckpointError, match="no table magic"):
        list(tfc.table_entries(table[:-1] + b"\0"))
    handle = enc_varint(0) + enc_varint(0) + enc_varint(1000) + enc_varint(10)
    beyond = b"\0" * 10 + handle.ljust(40, b"\0") + struct.pack("<Q", tfc.TABLE_MAGIC)
    with pytest.raises(TFCheckpointError, match="lies outside"):
        list(tfc.table_entries(beyond))
    first = len(make_block([(k, b"x") for k in KEYS[:3]], 2))  # its trailer's type byte
    with pytest.raises(TFCheckpointError, match="compression type 7"):
        list(tfc.table_entries(table[:first] + b"\x07" + table[first + 1:]))
    # An entry at a restart point that claims a shared prefix.
    bad = bytearray(make_block([(b"ab", b"1"), (b"ac", b"2")], 1))
    bad[6] = 1  # the second entry, itself a restart point
    with pytest.raises(TFCheckpointError, match="corrupt table entry"):
        list(tfc.block_entries(bytes(bad)))
    with pytest.raises(TFCheckpointError, match="restart count"):
        list(tfc.block_entries(b"\0\0\0\0"))


# ----- tensor bundle (TF2)


def write_bundle(prefix: Path, *, big_endian: bool = False) -> None:
    order = ">" if big_endian else "<"
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    step = np.array(-7, np.int64)
    data = w.astype(w.dtype.newbyteorder(order)).tobytes()
    header = vint(1, 1) + vint(2, int(big_endian))
    entries = [
        (b"", header),
        (b"model/w", vint(1, 1) + ld(2, shape_proto(2, 3)) + vint(4, 0) + vint(5, 24)),
        (b"obj_graph", vint(1, 7) + ld(2, b"") + vint(4, 32) + vint(5, 3)),
        (b"step", vint(1, 9) + vint(4, 24) + vint(5, 8)),
    ]
    data += step.astype(step.dtype.newbyteorder(order)).tobytes() + b"abc"
    prefix.with_name(prefix.name + ".index").write_bytes(make_table(entries, per_block=2))
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(data)


@pytest.mark.parametrize("big_endian", [False, True])
def test_read_tensor_bundle(tmp_path, big_endian):
    write_bundle(tmp_path / "ckpt-1", big_endian=big_endian)
    tensors = tfc.read_tensor_bundle(tmp_path / "ckpt-1")
    assert sorted(tensors) == ["model/w", "step"]  # the string tensor is left out
    np.testing.assert_array_equal(tensors["model/w"], np.arange(6).reshape(2, 3) / 4)
    assert tensors["model/w"].dtype == np.float32 and tensors["step"] == -7


def test_tensor_bundle_errors_name_the_file(tmp_path):
    with pytest.raises(TFCheckpointError, match="no checkpoint index"):
        tfc.read_tensor_bundle(tmp_path / "nothing")
    write_bundle(tmp_path / "ckpt-1")
    (tmp_path / "ckpt-1.data-00000-of-00001").unlink()
    with pytest.raises(TFCheckpointError, match=r"ckpt-1\.index: data shard .* is missing"):
        tfc.read_tensor_bundle(tmp_path / "ckpt-1")
    (tmp_path / "ckpt-1.data-00000-of-00001").write_bytes(b"\0" * 10)
    with pytest.raises(TFCheckpointError, match="'model/w' \\[2, 3\\] needs 24 bytes"):
        tfc.read_tensor_bundle(tmp_path / "ckpt-1")
    (tmp_path / "bad.index").write_bytes(b"x" * 60)
    with pytest.raises(TFCheckpointError, match="bad.index: not a TensorFlow checkpoint index"):
        tfc.read_tensor_bundle(tmp_path / "bad")


# ----- V1 checkpoint


def slice_entry(name: bytes, extents: list[tuple[int, int]] | None, tensor: bytes) -> bytes:
    extent = b"".join(ld(1, vint(1, s) + vint(2, n)) for s, n in extents or [])
    return ld(2, ld(1, name) + ld(2, extent) + ld(3, tensor))


def v1_checkpoint() -> bytes:
    meta = b"".join(ld(1, ld(1, name) + ld(2, shape) + vint(3, dtype)) for name, shape, dtype in [
        (b"kernel", shape_proto(2, 2), 1), (b"step", b"", 9), (b"flags", shape_proto(3), 10),
        (b"half", shape_proto(2), 19), (b"names", shape_proto(1), 7)])
    floats = np.array([1.5, -2.0], "<f4").tobytes()
    entries = sorted([
        (b"", ld(1, meta)),
        (b"kernel0", slice_entry(b"kernel", [(0, 1), (0, 2)], ld(5, floats))),
        (b"kernel1", slice_entry(b"kernel", [(1, 1), (0, 2)],  # unpacked fixed32 floats
                                  (enc_varint(5 << 3 | 5) + struct.pack("<f", 3.0)) * 2)),
        (b"step", slice_entry(b"step", None, vint(10, -5))),
        (b"flags", slice_entry(b"flags", None, ld(11, enc_varint(1) + enc_varint(0))
                               + vint(11, 1))),
        (b"half", slice_entry(b"half", None, ld(13, b"".join(
            enc_varint(int(v)) for v in np.array([0.5, -1], np.float16).view(np.uint16))))),
        (b"names", slice_entry(b"names", None, ld(8, b"x"))),
    ])
    return make_table(entries, per_block=3, restart_interval=2)


def test_read_v1_checkpoint_assembles_slices():
    tensors = tfc.read_v1_checkpoint(v1_checkpoint())
    assert sorted(tensors) == ["flags", "half", "kernel", "step"]
    np.testing.assert_array_equal(tensors["kernel"], [[1.5, -2.0], [3.0, 3.0]])
    assert tensors["step"].dtype == np.int64 and tensors["step"] == -5
    assert tensors["flags"].tolist() == [True, False, True]
    np.testing.assert_array_equal(tensors["half"], np.array([0.5, -1], np.float16))


def test_v1_checkpoint_errors_name_the_source():
    with pytest.raises(TFCheckpointError, match="^x.mag: not a TensorFlow V1 checkpoint"):
        tfc.read_v1_checkpoint(b"\0" * 100, source="x.mag")
    no_meta = make_table([(b"a", slice_entry(b"a", None, ld(5, b"\0" * 4)))])
    with pytest.raises(TFCheckpointError, match="^ck: no tensor list"):
        tfc.read_v1_checkpoint(no_meta, source="ck")
    meta = ld(1, ld(1, ld(1, b"a") + ld(2, shape_proto(3)) + vint(3, 1)))
    short = make_table([(b"", meta), (b"a", slice_entry(b"a", None, ld(4, b"\0" * 8)))])
    with pytest.raises(TFCheckpointError, match="'a' holds 2 values for 3 places"):
        tfc.read_v1_checkpoint(short)
    repeated = make_table([(b"", meta), (b"a", slice_entry(b"a", None, ld(5, b"\0\0\x80\x3f")))])
    np.testing.assert_array_equal(tfc.read_v1_checkpoint(repeated)["a"], [1, 1, 1])
    quantized = ld(1, ld(1, ld(1, b"q") + vint(3, 11)))
    with pytest.raises(TFCheckpointError, match="'q' has TensorFlow dtype 11"):
        tfc.read_v1_checkpoint(make_table([(b"", quantized)]))
