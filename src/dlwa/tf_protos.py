"""TensorFlow's checkpoint protobuf messages, without TensorFlow.

The message classes that :mod:`dlwa.tf_checkpoint` decodes, built at import time from a
``FileDescriptorProto`` written out below. The field names, numbers and types are those
published in TensorFlow's ``.proto`` files (``tensorflow/core/``):

- ``framework/types.proto``: ``DataType`` (the values up to ``DT_UINT64``);
- ``framework/versions.proto``: ``VersionDef``;
- ``framework/tensor_shape.proto``: ``TensorShapeProto``;
- ``framework/tensor_slice.proto``: ``TensorSliceProto``;
- ``framework/tensor.proto``: ``TensorProto`` (without ``resource_handle_val`` = 14,
  ``variant_val`` = 15 and ``float8_val`` = 18, which the readers never convert; the
  parser skips them as unknown fields);
- ``protobuf/tensor_bundle.proto``: ``BundleHeaderProto``, ``BundleEntryProto``;
- ``util/saved_tensor_slice.proto``: ``SavedSliceMeta``, ``SavedTensorSliceMeta``,
  ``SavedSlice``, ``SavedTensorSlices``.

All of them are ``proto3`` in package ``tensorflow``; here they live in one file of a
private descriptor pool, so they never clash with TensorFlow's own classes when both are
imported. Only the public descriptor API of ``protobuf`` is used (``descriptor_pb2``,
``DescriptorPool``, ``message_factory.GetMessageClass``): there is no generated code, so
no generated-code/runtime version check ties dlwa to one protobuf release.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64, "fixed32": _F.TYPE_FIXED32, "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE, "bool": _F.TYPE_BOOL, "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES}

DATA_TYPES = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
    "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9,
    "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12, "DT_QINT32": 13, "DT_BFLOAT16": 14,
    "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18, "DT_HALF": 19,
    "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23}
"""``tensorflow.DataType`` (types.proto). The enum is open (proto3): later values, such
as the float8 and int4 types, are kept as plain numbers."""

# message name → fields as (name, number, type, label), in the .proto files' order. A type
# is a scalar name from _SCALARS or a ".tensorflow.<Message or Enum>"; the label is
# "repeated", "" (singular) or "oneof <name>" (a member of that oneof).
MESSAGES: dict[str, list[tuple[str, int, str, str]]] = {
    "VersionDef": [
        ("producer", 1, "int32", ""),
        ("min_consumer", 2, "int32", ""),
        ("bad_consumers", 3, "int32", "repeated")],
    "TensorShapeProto.Dim": [
        ("size", 1, "int64", ""),
        ("name", 2, "string", "")],
    "TensorShapeProto": [
        ("dim", 2, ".tensorflow.TensorShapeProto.Dim", "repeated"),
        ("unknown_rank", 3, "bool", "")],
    "TensorSliceProto.Extent": [
        ("start", 1, "int64", ""),
        ("length", 2, "int64", "oneof has_length")],
    "TensorSliceProto": [
        ("extent", 1, ".tensorflow.TensorSliceProto.Extent", "repeated")],
    "TensorProto": [
        ("dtype", 1, ".tensorflow.DataType", ""),
        ("tensor_shape", 2, ".tensorflow.TensorShapeProto", ""),
        ("version_number", 3, "int32", ""),
        ("tensor_content", 4, "bytes", ""),
        ("half_val", 13, "int32", "repeated"),
        ("float_val", 5, "float", "repeated"),
        ("double_val", 6, "double", "repeated"),
        ("int_val", 7, "int32", "repeated"),
        ("string_val", 8, "bytes", "repeated"),
        ("scomplex_val", 9, "float", "repeated"),
        ("int64_val", 10, "int64", "repeated"),
        ("bool_val", 11, "bool", "repeated"),
        ("dcomplex_val", 12, "double", "repeated"),
        ("uint32_val", 16, "uint32", "repeated"),
        ("uint64_val", 17, "uint64", "repeated")],
    "BundleHeaderProto": [
        ("num_shards", 1, "int32", ""),
        ("endianness", 2, ".tensorflow.BundleHeaderProto.Endianness", ""),
        ("version", 3, ".tensorflow.VersionDef", "")],
    "BundleEntryProto": [
        ("dtype", 1, ".tensorflow.DataType", ""),
        ("shape", 2, ".tensorflow.TensorShapeProto", ""),
        ("shard_id", 3, "int32", ""),
        ("offset", 4, "int64", ""),
        ("size", 5, "int64", ""),
        ("crc32c", 6, "fixed32", ""),
        ("slices", 7, ".tensorflow.TensorSliceProto", "repeated")],
    "SavedSliceMeta": [
        ("name", 1, "string", ""),
        ("shape", 2, ".tensorflow.TensorShapeProto", ""),
        ("type", 3, ".tensorflow.DataType", ""),
        ("slice", 4, ".tensorflow.TensorSliceProto", "repeated")],
    "SavedTensorSliceMeta": [
        ("tensor", 1, ".tensorflow.SavedSliceMeta", "repeated"),
        ("versions", 2, ".tensorflow.VersionDef", "")],
    "SavedSlice": [
        ("name", 1, "string", ""),
        ("slice", 2, ".tensorflow.TensorSliceProto", ""),
        ("data", 3, ".tensorflow.TensorProto", "")],
    "SavedTensorSlices": [
        ("meta", 1, ".tensorflow.SavedTensorSliceMeta", ""),
        ("data", 2, ".tensorflow.SavedSlice", "")],
}
ENUMS = {
    "DataType": DATA_TYPES,
    "BundleHeaderProto.Endianness": {"LITTLE": 0, "BIG": 1},
}


def _add_enum(enums, name: str, values: dict[str, int]) -> None:
    enum = enums.add(name=name)
    for value_name, number in values.items():
        enum.value.add(name=value_name, number=number)


def _add_field(message: descriptor_pb2.DescriptorProto, name: str, number: int, type_: str,
               label: str) -> None:
    field = message.field.add(name=name, number=number, json_name=name)
    field.label = _F.LABEL_REPEATED if label == "repeated" else _F.LABEL_OPTIONAL
    if type_ in _SCALARS:
        field.type = _SCALARS[type_]
    else:
        field.type_name = type_
        field.type = (_F.TYPE_ENUM if type_.removeprefix(".tensorflow.") in ENUMS
                      else _F.TYPE_MESSAGE)
    if label.startswith("oneof "):
        oneof = label.removeprefix("oneof ")
        names = [o.name for o in message.oneof_decl]
        if oneof not in names:
            message.oneof_decl.add(name=oneof)
            names.append(oneof)
        field.oneof_index = names.index(oneof)


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """One ``proto3`` file in package ``tensorflow`` declaring :data:`MESSAGES` and
    :data:`ENUMS` (nested types where the name has a dot)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="dlwa/tensorflow_checkpoint.proto", package="tensorflow", syntax="proto3")
    built: dict[str, descriptor_pb2.DescriptorProto] = {}
    for name in sorted(MESSAGES, key=lambda n: n.count(".")):
        outer, _, inner = name.rpartition(".")
        built[name] = (built[outer].nested_type.add(name=inner) if outer
                       else file.message_type.add(name=name))
    for name, fields in MESSAGES.items():
        for field in fields:
            _add_field(built[name], *field)
    for name, values in ENUMS.items():
        outer, _, inner = name.rpartition(".")
        _add_enum(built[outer].enum_type if outer else file.enum_type, inner, values)
    return file


def _build() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(file_descriptor().SerializeToString())
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(
        f"tensorflow.{name}")) for name in MESSAGES}


_CLASSES = _build()
VersionDef = _CLASSES["VersionDef"]
TensorShapeProto = _CLASSES["TensorShapeProto"]
TensorSliceProto = _CLASSES["TensorSliceProto"]
TensorProto = _CLASSES["TensorProto"]
BundleHeaderProto = _CLASSES["BundleHeaderProto"]
BundleEntryProto = _CLASSES["BundleEntryProto"]
SavedSliceMeta = _CLASSES["SavedSliceMeta"]
SavedTensorSliceMeta = _CLASSES["SavedTensorSliceMeta"]
SavedSlice = _CLASSES["SavedSlice"]
SavedTensorSlices = _CLASSES["SavedTensorSlices"]
