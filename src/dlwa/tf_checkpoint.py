"""Read TensorFlow checkpoints without TensorFlow.

TensorFlow stores checkpoints in two formats, both built on a LevelDB-style sorted table
(``tensorflow/core/lib/io/table``): blocks of prefix-compressed keys with restart points,
each block followed by a 5-byte trailer (compression type, CRC), an index block of block
handles and a 48-byte footer ending in a magic number. Blocks may be snappy-compressed.

- TF2 (and TF1 ``SaverDef.V2``) *tensor bundles*: ``<prefix>.index`` is a table mapping
  each tensor name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size); the empty
  key holds the ``BundleHeaderProto`` (shard count, endianness). The values are raw bytes in
  ``<prefix>.data-<shard>-of-<n_shards>``. Read by :func:`read_tensor_bundle`.
- TF1 ``SaverDef.V1`` checkpoints (used inside Magenta ``.mag`` bundles): one table whose
  values are ``SavedTensorSlices`` protobufs; the empty key lists every tensor's name, shape
  and dtype, the other entries carry the values of one slice as a ``TensorProto``. Read by
  :func:`read_v1_checkpoint`.

The tables and snappy blocks are decoded here; the protobuf messages inside them with
classes built from TensorFlow's published definitions (:mod:`dlwa.tf_protos`), so
neither TensorFlow nor generated code is needed. String, resource and variant tensors
carry no numbers and are left out; so are the parts of partitioned variables in a bundle.
CRCs are not checked.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from dlwa import tf_protos

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5
DT_BFLOAT16 = 14
NUMPY_DTYPES: dict[int, str] = {
    1: "f4", 2: "f8", 3: "i4", 4: "u1", 5: "i2", 6: "i1", 8: "c8", 9: "i8", 10: "?",
    DT_BFLOAT16: "u2", 17: "u2", 18: "c16", 19: "f2", 22: "u4", 23: "u8"}
"""TensorFlow ``DataType`` → numpy type code (bfloat16 is read as bits, returned as float32)."""
SKIPPED_DTYPES = {7: "string", 20: "resource", 21: "variant"}
"""Non-numeric ``DataType`` values whose tensors the readers leave out."""


class TFCheckpointError(ValueError):
    """A file is not a TensorFlow checkpoint this reader understands; the message says why."""


# ----- varints (table entries, block handles, snappy lengths)


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """One base-128 varint (at most 10 bytes, 64 bits).

    Args:
        data: the buffer.
        pos: where the varint starts.

    Returns:
        (value as an unsigned 64-bit int, position after it).

    Raises:
        TFCheckpointError: the buffer ends inside the varint, or it is longer than 10 bytes.
    """
    result = shift = 0
    while True:
        if pos >= len(data):
            raise TFCheckpointError(f"truncated varint at byte {pos}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift > 63:
            raise TFCheckpointError(f"varint longer than 10 bytes ending at byte {pos}")


# ----- table (SSTable)


def snappy_decompress(data: bytes) -> bytes:
    """Decompress one raw snappy block (length varint, then literal and copy elements).

    Raises:
        TFCheckpointError: an element running past the end, a copy reaching before the
            start, or a wrong total length.
    """
    length, pos = varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        kind, n = tag & 3, tag >> 2
        pos += 1
        if kind == 0:  # literal: length - 1 in the tag, or in 1-4 following bytes
            if n >= 60:
                n, pos = int.from_bytes(data[pos:pos + n - 59], "little"), pos + n - 59
            if pos + n + 1 > len(data):
                raise TFCheckpointError(f"snappy literal of {n + 1} bytes at byte {pos} runs "
                                        "past the end of the block")
            out += data[pos:pos + n + 1]
            pos += n + 1
            continue
        width = (1, 2, 4)[kind - 1]  # copy: 1 byte (+ 3 tag bits), 2 or 4 bytes of offset
        if pos + width > len(data):
            raise TFCheckpointError(f"snappy copy at byte {pos - 1} runs past the end of the "
                                    "block")
        offset, pos = int.from_bytes(data[pos:pos + width], "little"), pos + width
        if kind == 1:  # 4-11 bytes, 11-bit offset
            n, offset = (n & 7) + 4, ((tag >> 5) << 8) | offset
        else:  # 1-64 bytes
            n += 1
        if not 0 < offset <= len(out):
            raise TFCheckpointError(f"snappy copy {offset} bytes back after {len(out)} bytes "
                                    "(corrupt block)")
        pattern = out[len(out) - offset:len(out) - offset + n]
        out += (pattern * (n // len(pattern) + 1))[:n]  # an overlapping copy repeats
    if len(out) != length:
        raise TFCheckpointError(f"snappy block holds {len(out)} bytes, its header says {length}")
    return bytes(out)


def _block(data: bytes, offset: int, size: int) -> bytes:
    """The contents of the block at a handle, decompressed."""
    if offset + size + BLOCK_TRAILER_BYTES > len(data):
        raise TFCheckpointError(f"table block at byte {offset} ({size} bytes) lies outside "
                                f"the {len(data)}-byte file (truncated?)")
    compression = data[offset + size]
    if compression == 1:
        return snappy_decompress(data[offset:offset + size])
    if compression != 0:
        raise TFCheckpointError(f"table block at byte {offset} has compression type "
                                f"{compression}; only none (0) and snappy (1) are read")
    return data[offset:offset + size]


def block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` pairs of one table block, keys rebuilt from their shared prefixes.

    Raises:
        TFCheckpointError: a bad restart array, or an entry that runs past its block or
            shares more of the previous key than there is (keys at restart points share none).
    """
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0] if len(block) >= 4 else -1
    end = len(block) - 4 - 4 * n_restarts
    if n_restarts < 1 or end < 0:
        raise TFCheckpointError(f"table block of {len(block)} bytes has a bad restart count "
                                f"({n_restarts})")
    restarts = set(struct.unpack_from(f"<{n_restarts}I", block, end))
    pos, key = 0, b""
    while pos < end:
        start = pos
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_length, pos = varint(block, pos)
        if shared > len(key) or (start in restarts and shared) or (
                pos + unshared + value_length > end):
            raise TFCheckpointError(f"corrupt table entry at byte {start} of a block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_length]
        pos += value_length


def table_entries(data: bytes, *, kind: str = "TensorFlow table") -> Iterator[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of a table file, in key order.

    Args:
        data: the whole file.
        kind: what the file should be, for the error messages.

    Raises:
        TFCheckpointError: no footer or magic number, or a malformed block.
    """
    if len(data) < FOOTER_BYTES:
        raise TFCheckpointError(f"not a {kind}: {len(data)} bytes, shorter than the "
                                f"{FOOTER_BYTES}-byte table footer")
    footer = data[-FOOTER_BYTES:]
    if struct.unpack_from("<Q", footer, FOOTER_BYTES - 8)[0] != TABLE_MAGIC:
        raise TFCheckpointError(f"not a {kind} (no table magic number at its end)")
    _, pos = varint(footer, 0)  # metaindex handle: offset, size
    _, pos = varint(footer, pos)
    index_offset, pos = varint(footer, pos)
    index_size, _ = varint(footer, pos)
    for _, handle in block_entries(_block(data, index_offset, index_size)):
        offset, pos = varint(handle, 0)
        size, _ = varint(handle, pos)
        yield from block_entries(_block(data, offset, size))


# ----- tensors


@contextmanager
def _naming(source: str) -> Iterator[None]:
    """Re-raise reading errors as one TFCheckpointError that names the file."""
    try:
        yield
    except TFCheckpointError as exc:
        raise TFCheckpointError(f"{source}: {exc}") from exc
    except (DecodeError, IndexError, KeyError, struct.error, UnicodeDecodeError) as exc:
        raise TFCheckpointError(f"{source}: malformed checkpoint ({exc!r})") from exc


def _numpy_type(dtype: int, name: str) -> str | None:
    """The numpy type code for a TensorFlow dtype; None for non-numeric tensors."""
    if dtype in SKIPPED_DTYPES:
        return None
    if dtype not in NUMPY_DTYPES:
        raise TFCheckpointError(f"tensor '{name}' has TensorFlow dtype {dtype}, which this "
                                "reader does not convert")
    return NUMPY_DTYPES[dtype]


def _finish(array: np.ndarray, dtype: int) -> np.ndarray:
    """A native-order copy; bfloat16 bits widened to float32."""
    array = array.astype(array.dtype.newbyteorder("="))
    return (array.astype(np.uint32) << 16).view(np.float32) if dtype == DT_BFLOAT16 else array


def tensor_shape(shape: Any) -> list[int]:
    """The dimensions of a ``TensorShapeProto`` (unknown ones are -1)."""
    return [dim.size for dim in shape.dim]


def read_tensor_bundle(prefix: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All numeric tensors of a tensor bundle (``<prefix>.index`` + data shards), by name.

    Raises:
        TFCheckpointError: a missing index or shard, or malformed contents (names the file).
    """
    prefix = os.fspath(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise TFCheckpointError(f"no checkpoint index {index_path}")
    tensors: dict[str, np.ndarray] = {}
    shards: dict[int, bytes] = {}
    n_shards, order = 1, "<"
    with _naming(str(index_path)):
        for key, value in table_entries(index_path.read_bytes(),
                                        kind="TensorFlow checkpoint index"):
            if key == b"":
                header = tf_protos.BundleHeaderProto.FromString(value)
                # proto3 cannot tell an absent shard count from 0: both mean one shard.
                n_shards = header.num_shards or 1
                order = ">" if header.endianness == tf_protos.BundleHeaderProto.BIG else "<"
                continue
            entry = tf_protos.BundleEntryProto.FromString(value)
            if key.startswith(b"\x00") or entry.slices:  # partitioned variables
                continue
            name = key.decode()
            code = _numpy_type(entry.dtype, name)
            if code is None:
                continue
            shard, offset, size = entry.shard_id, entry.offset, entry.size
            if shard not in shards:
                path = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")
                if not path.is_file():
                    raise TFCheckpointError(f"data shard {path} is missing")
                shards[shard] = path.read_bytes()
            shape = tensor_shape(entry.shape)
            expected = int(np.prod(shape)) * np.dtype(code).itemsize
            if size != expected or offset < 0 or offset + size > len(shards[shard]):
                raise TFCheckpointError(f"tensor '{name}' {shape} needs {expected} bytes, its "
                                        f"entry gives {size} at byte {offset} of shard {shard}")
            raw = shards[shard][offset:offset + size]
            array = np.frombuffer(raw, np.dtype(code).newbyteorder(order))
            tensors[name] = _finish(array, entry.dtype).reshape(shape)
    return tensors


def _extents(tensor_slice: Any, shape: list[int]) -> tuple[slice, ...]:
    """The region a ``TensorSliceProto`` covers (no extents: the whole tensor; an extent
    without a length: the whole dimension)."""
    extents = list(tensor_slice.extent)
    if not extents:
        return tuple(slice(None) for _ in shape)
    if len(extents) != len(shape):
        raise TFCheckpointError(f"slice has {len(extents)} extents for shape {shape}")
    return tuple(slice(e.start, e.start + e.length) if e.HasField("length") else slice(0, dim)
                 for dim, e in zip(shape, extents, strict=True))


VALUE_FIELDS = {
    1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
    8: "scomplex_val", 9: "int64_val", 10: "bool_val", DT_BFLOAT16: "half_val",
    17: "int_val", 18: "dcomplex_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val"}
"""The ``TensorProto`` field that holds the values of each dtype, as TensorFlow fills it
(``half_val`` holds the 16 bits of half and bfloat16 values; complex fields hold real and
imaginary parts in turn)."""


def _tensor_values(tensor: Any, dtype: int, size: int) -> np.ndarray:
    """The flat values of a ``TensorProto`` of ``size`` elements: ``tensor_content``, or
    the dtype's repeated field, whose last value repeats to fill the tensor (none: zeros)."""
    code = NUMPY_DTYPES[dtype]
    if tensor.tensor_content:
        return _finish(np.frombuffer(tensor.tensor_content, np.dtype(code).newbyteorder("<")),
                       dtype)
    values = getattr(tensor, VALUE_FIELDS[dtype])
    if dtype in (19, DT_BFLOAT16):
        flat = _finish(np.asarray(values, np.uint16).view("f2" if dtype == 19 else "u2"), dtype)
    elif code in ("c8", "c16"):
        flat = np.asarray(values, "f4" if code == "c8" else "f8").view(code)
    else:
        flat = np.asarray(values, code)
    if flat.size == 0:
        return np.zeros(size, "f4" if dtype == DT_BFLOAT16 else code)
    return np.concatenate([flat, np.repeat(flat[-1:], size - flat.size)]) if (
        flat.size < size) else flat


def read_v1_checkpoint(data: bytes, *, source: str = "V1 checkpoint") -> dict[str, np.ndarray]:
    """The numeric tensors of a TensorFlow V1 (``SaverDef.V1``) checkpoint file, by name.

    Args:
        data: the whole checkpoint file.
        source: where it came from, for the error messages.

    Raises:
        TFCheckpointError: not a V1 checkpoint, or malformed contents (names ``source``).
    """
    metas: dict[str, tuple[list[int], int]] = {}
    slices: list[Any] = []
    with _naming(source):
        for key, value in table_entries(data, kind="TensorFlow V1 checkpoint"):
            record = tf_protos.SavedTensorSlices.FromString(value)
            if key == b"":
                for info in record.meta.tensor:
                    metas[info.name] = (tensor_shape(info.shape), info.type)
            if record.HasField("data"):
                slices.append(record.data)
        if not metas:
            raise TFCheckpointError("no tensor list under the empty key (not a V1 checkpoint?)")
        tensors = {name: np.zeros(shape, "f4" if dtype == DT_BFLOAT16 else code)
                   for name, (shape, dtype) in metas.items()
                   if (code := _numpy_type(dtype, name)) is not None}
        for saved in slices:
            if saved.name not in metas:
                raise TFCheckpointError(f"a slice of '{saved.name}', which the tensor list "
                                        "lacks")
            if saved.name in tensors:
                target = tensors[saved.name]
                where = _extents(saved.slice, list(target.shape))
                size = target[where].size
                flat = _tensor_values(saved.data, metas[saved.name][1], size)
                if flat.size != size:
                    raise TFCheckpointError(f"a slice of '{saved.name}' holds {flat.size} "
                                            f"values for {size} places")
                target[where] = flat.reshape(target[where].shape)
    return tensors
