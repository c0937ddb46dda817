"""The shared TensorFlow checkpoint reader on small inputs built here.

The readers are also checked end to end against files TensorFlow itself wrote, by the
importer tests (tests/ddsp/test_convert.py, tests/melody_rnn/test_melody_convert.py).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import cramjam
import numpy as np
import pytest

from dlwa import tf_checkpoint as tfc
from dlwa import tf_protos
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


# ----- the protobuf messages against TensorFlow's published definitions

PUBLISHED = """
VersionDef: int32 producer = 1; int32 min_consumer = 2; repeated int32 bad_consumers = 3;
TensorShapeProto.Dim: int64 size = 1; string name = 2;
TensorShapeProto: repeated TensorShapeProto.Dim dim = 2; bool unknown_rank = 3;
TensorSliceProto.Extent: int64 start = 1; int64 length = 2;
TensorSliceProto: repeated TensorSliceProto.Extent extent = 1;
TensorProto: DataType dtype = 1; TensorShapeProto tensor_shape = 2; int32 version_number = 3;
    bytes tensor_content = 4; repeated int32 half_val = 13; repeated float float_val = 5;
    repeated double double_val = 6; repeated int32 int_val = 7; repeated bytes string_val = 8;
    repeated float scomplex_val = 9; repeated int64 int64_val = 10;
    repeated bool bool_val = 11; repeated double dcomplex_val = 12;
    repeated uint32 uint32_val = 16; repeated uint64 uint64_val = 17;
BundleHeaderProto: int32 num_shards = 1; BundleHeaderProto.Endianness endianness = 2;
    VersionDef version = 3;
BundleEntryProto: DataType dtype = 1; TensorShapeProto shape = 2; int32 shard_id = 3;
    int64 offset = 4; int64 size = 5; fixed32 crc32c = 6;
    repeated TensorSliceProto slices = 7;
SavedSliceMeta: string name = 1; TensorShapeProto shape = 2; DataType type = 3;
    repeated TensorSliceProto slice = 4;
SavedTensorSliceMeta: repeated SavedSliceMeta tensor = 1; VersionDef versions = 2;
SavedSlice: string name = 1; TensorSliceProto slice = 2; TensorProto data = 3;
SavedTensorSlices: SavedTensorSliceMeta meta = 1; SavedSlice data = 2;
"""
"""The fields as TensorFlow's .proto files declare them (tensor.proto's resource, variant
and float8 fields left out), transcribed separately from dlwa.tf_protos."""


def _published() -> dict[str, set[tuple[str, int, str, bool]]]:
    out = {}
    for name, body in re.findall(r"^(\S+): (.*?)(?=^\S|\Z)", PUBLISHED, re.MULTILINE | re.DOTALL):
        out[name] = {(field, int(number), type_, bool(repeated)) for repeated, type_, field, number
                     in re.findall(r"(repeated )?(\S+) (\w+) = (\d+);", body)}
    return out


def _type_name(field) -> str:
    if field.message_type or field.enum_type:
        full = (field.message_type or field.enum_type).full_name
        return full.removeprefix("tensorflow.")
    return {field.TYPE_INT32: "int32", field.TYPE_INT64: "int64", field.TYPE_UINT32: "uint32",
            field.TYPE_UINT64: "uint64", field.TYPE_FIXED32: "fixed32", field.TYPE_FLOAT: "float",
            field.TYPE_DOUBLE: "double", field.TYPE_BOOL: "bool", field.TYPE_STRING: "string",
            field.TYPE_BYTES: "bytes"}[field.type]


@pytest.mark.parametrize("name", list(_published()))
def test_message_fields_are_the_published_ones(name):
    descriptor = getattr(tf_protos, name.split(".")[0]).DESCRIPTOR
    if "." in name:
        descriptor = descriptor.nested_types_by_name[name.split(".")[1]]
    got = {(f.name, f.number, _type_name(f), f.is_repeated) for f in descriptor.fields}
    assert got == _published()[name]
    for field in descriptor.fields:  # TensorFlow writes repeated numbers packed
        if field.is_repeated and _type_name(field) not in ("bytes", "string") and (
                field.message_type is None):
            assert field.is_packed, field.name


def test_enums_and_oneof_are_the_published_ones():
    data_type = tf_protos.BundleEntryProto.DESCRIPTOR.fields_by_name["dtype"].enum_type
    numbers = {v.name: v.number for v in data_type.values}
    assert numbers["DT_FLOAT"] == 1 and numbers["DT_BFLOAT16"] == 14
    assert numbers["DT_HALF"] == 19 and numbers["DT_UINT64"] == 23 and numbers["DT_STRING"] == 7
    assert tf_protos.BundleHeaderProto.BIG == 1 and tf_protos.BundleHeaderProto.LITTLE == 0
    extent = tf_protos.TensorSliceProto.Extent
    assert extent.DESCRIPTOR.fields_by_name["length"].containing_oneof.name == "has_length"


def test_hand_encoded_messages_decode_into_the_named_fields():
    """Wire bytes written here from the published field numbers, read by the classes."""
    entry = tf_protos.BundleEntryProto.FromString(
        vint(1, 19) + ld(2, shape_proto(4, -1)) + vint(3, 2) + vint(4, 2**40) + vint(5, 8)
        + enc_varint(6 << 3 | 5) + struct.pack("<I", 0xDEADBEEF)
        + ld(7, ld(1, vint(1, 3) + vint(2, 0)) + ld(1, vint(1, 0))))
    assert (entry.dtype, entry.shard_id, entry.offset, entry.size) == (19, 2, 2**40, 8)
    assert tfc.tensor_shape(entry.shape) == [4, -1] and entry.crc32c == 0xDEADBEEF
    first, second = entry.slices[0].extent
    assert (first.start, first.length, first.HasField("length")) == (3, 0, True)
    assert not second.HasField("length")
    header = tf_protos.BundleHeaderProto.FromString(vint(1, 3) + vint(2, 1) + ld(3, vint(1, 5)))
    assert (header.num_shards, header.endianness, header.version.producer) == (3, 1, 5)
    record = tf_protos.SavedTensorSlices.FromString(
        ld(1, ld(1, ld(1, b"w") + ld(2, shape_proto(2)) + vint(3, 9)) + ld(2, vint(1, 1)))
        + ld(2, ld(1, b"w") + ld(2, ld(1, vint(2, 2))) + ld(3, ld(10, enc_varint(7)))))
    meta = record.meta.tensor[0]
    assert (meta.name, meta.type, record.meta.versions.producer) == ("w", 9, 1)
    assert record.data.name == "w" and record.data.slice.extent[0].length == 2
    assert list(record.data.data.int64_val) == [7]
    tensor = tf_protos.TensorProto.FromString(
        ld(4, b"raw") + vint(3, 1) + ld(13, enc_varint(15360)) + ld(16, enc_varint(2**32 - 1))
        + ld(17, enc_varint(2**64 - 1)) + ld(12, struct.pack("<2d", 1, 2)))
    assert tensor.tensor_content == b"raw" and tensor.version_number == 1
    assert list(tensor.half_val) == [15360] and list(tensor.uint32_val) == [2**32 - 1]
    assert list(tensor.uint64_val) == [2**64 - 1] and list(tensor.dcomplex_val) == [1, 2]


DTYPE_ARRAYS = {
    1: np.array([[1.5, -2.25], [3, 4]], np.float32),
    2: np.array([1e-300, -2.5], np.float64),
    3: np.array([-(2**31), 2**31 - 1], np.int32),
    4: np.array([0, 255], np.uint8),
    5: np.array([-(2**15), 7], np.int16),
    6: np.array([-128, 127], np.int8),
    8: np.array([1 + 2j, -3.5j], np.complex64),
    9: np.array([-(2**63), 2**63 - 1], np.int64),
    10: np.array([True, False, True]),
    14: np.array([1.0, -2.5, 2.0**127], np.float32),  # bfloat16-exact values
    17: np.array([0, 65535], np.uint16),
    18: np.array([1e-300 + 1j, -2j], np.complex128),
    19: np.array([0.5, -65504], np.float16),
    22: np.array([0, 2**32 - 1], np.uint32),
    23: np.array([0, 2**64 - 1], np.uint64),
}


def _raw(array: np.ndarray, dtype: int, order: str = "<") -> bytes:
    if dtype == tfc.DT_BFLOAT16:
        return (array.view(np.uint32) >> 16).astype(np.dtype("u2").newbyteorder(order)).tobytes()
    return array.astype(array.dtype.newbyteorder(order)).tobytes()


@pytest.mark.parametrize("big_endian", [False, True])
def test_bundle_written_with_the_message_classes(tmp_path, big_endian):
    order = ">" if big_endian else "<"
    data, entries = b"", []
    for dtype, array in DTYPE_ARRAYS.items():
        raw = _raw(array, dtype, order)
        entry = tf_protos.BundleEntryProto(dtype=dtype, offset=len(data), size=len(raw))
        entry.shape.dim.extend(tf_protos.TensorShapeProto.Dim(size=n) for n in array.shape)
        entries.append((b"t%02d" % dtype, entry.SerializeToString()))
        data += raw
    partitioned = tf_protos.BundleEntryProto(dtype=1)
    partitioned.slices.add().extent.add(start=0, length=1)
    entries.append((b"whole", partitioned.SerializeToString()))
    header = tf_protos.BundleHeaderProto(num_shards=1, endianness=int(big_endian))
    table = make_table([(b"", header.SerializeToString()), *sorted(entries)], per_block=4)
    (tmp_path / "c.index").write_bytes(table)
    (tmp_path / "c.data-00000-of-00001").write_bytes(data)
    tensors = tfc.read_tensor_bundle(tmp_path / "c")
    assert sorted(tensors) == sorted(f"t{d:02d}" for d in DTYPE_ARRAYS)
    for dtype, array in DTYPE_ARRAYS.items():
        got = tensors[f"t{dtype:02d}"]
        assert got.dtype == array.dtype and got.dtype.isnative
        np.testing.assert_array_equal(got, array)


SAVER_FIELDS = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val",
                6: "int_val", 8: "scomplex_val", 9: "int64_val", 10: "bool_val", 14: "half_val",
                17: "int_val", 18: "dcomplex_val", 19: "half_val", 22: "uint32_val",
                23: "uint64_val"}
"""The ``TensorProto`` field TensorFlow fills for each dtype (tensor.proto's comments and
``tensor_util.make_tensor_proto``)."""


def _values_field(tensor, dtype: int, array: np.ndarray) -> None:
    """Fill ``tensor`` as TensorFlow's V1 saver does: the dtype's repeated field."""
    field = getattr(tensor, SAVER_FIELDS[dtype])
    flat = array.ravel()
    if dtype == 19:
        field.extend(flat.view(np.uint16).tolist())
    elif dtype == tfc.DT_BFLOAT16:
        field.extend((flat.view(np.uint32) >> 16).tolist())
    elif flat.dtype.kind == "c":
        field.extend(flat.view(flat.real.dtype).tolist())
    else:
        field.extend(flat.tolist())


@pytest.mark.parametrize("as_content", [False, True])
def test_v1_checkpoint_written_with_the_message_classes(as_content):
    meta = tf_protos.SavedTensorSlices()
    entries = []
    for dtype, array in DTYPE_ARRAYS.items():
        name = f"t{dtype:02d}"
        info = meta.meta.tensor.add(name=name, type=dtype)
        info.shape.dim.extend(tf_protos.TensorShapeProto.Dim(size=n) for n in array.shape)
        for row in range(array.shape[0]):  # one slice per row, as a partitioned save would
            record = tf_protos.SavedTensorSlices()
            record.data.name = name
            record.data.slice.extent.add(start=row, length=1)
            for _ in array.shape[1:]:
                record.data.slice.extent.add()  # no length: the whole dimension
            if as_content:
                record.data.data.tensor_content = _raw(array[row:row + 1], dtype)
            else:
                _values_field(record.data.data, dtype, array[row:row + 1])
            entries.append((b"%s/%d" % (name.encode(), row), record.SerializeToString()))
    table = make_table([(b"", meta.SerializeToString()), *sorted(entries)], per_block=5,
                       snappy=real_snappy)
    tensors = tfc.read_v1_checkpoint(table)
    assert sorted(tensors) == sorted(f"t{d:02d}" for d in DTYPE_ARRAYS)
    for dtype, array in DTYPE_ARRAYS.items():
        got = tensors[f"t{dtype:02d}"]
        assert got.dtype == array.dtype
        np.testing.assert_array_equal(got, array)


def test_v1_single_value_fills_the_tensor():
    meta = tf_protos.SavedTensorSlices()
    meta.meta.tensor.add(name="c", type=2).shape.dim.add(size=4)
    record = tf_protos.SavedTensorSlices()
    record.data.name = "c"
    record.data.data.double_val.extend([0.25, 2.0])
    table = make_table([(b"", meta.SerializeToString()), (b"c", record.SerializeToString())])
    np.testing.assert_array_equal(tfc.read_v1_checkpoint(table)["c"], [0.25, 2, 2, 2])
