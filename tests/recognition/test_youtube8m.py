"""YouTube-8M TFRecord reading: CRC32C, framing, protobuf decoding and the dataset."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.recognition.datasets import tfrecord
from vidlearn.recognition.datasets.youtube8m import (
    ProtobufDecodeError,
    TFRecordError,
    YouTube8MDataset,
    crc32c,
    dequantize,
    encode_example,
    encode_sequence_example,
    index_tfrecord,
    iter_tfrecord,
    masked_crc32c,
    parse_example,
    parse_sequence_example,
    write_tfrecord,
)

# ------------------------------------------------------------------------------------------- CRC32C


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"123456789", 0xE3069283),  # the CRC catalogue's check value for CRC-32C
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4 test vectors
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
    ],
)
def test_crc32c_known_vectors(data, expected):
    assert crc32c(data) == expected
    assert tfrecord._crc32c_python(data) == expected


def test_python_crc_matches_the_installed_one_on_random_bytes():
    data = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    assert tfrecord._crc32c_python(data) == crc32c(data)
    crc = crc32c(data)
    assert masked_crc32c(data) == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2**32


# ----------------------------------------------------------------------------------------- TFRecord


def test_tfrecord_matches_tensorboards_record_writer(tmp_path):
    record_writer = pytest.importorskip("tensorboard.summary.writer.record_writer")
    records = [b"", b"first", bytes(range(256)) * 3]
    buffer = io.BytesIO()
    writer = record_writer.RecordWriter(buffer)
    for record in records:
        writer.write(record)
    theirs = tmp_path / "theirs.tfrecord"
    theirs.write_bytes(buffer.getvalue())
    ours = tmp_path / "ours.tfrecord"
    assert write_tfrecord(ours, records) == 3
    assert ours.read_bytes() == theirs.read_bytes()
    assert list(iter_tfrecord(theirs)) == records
    assert index_tfrecord(theirs) == [(0, 0), (16, 5), (37, 768)]


def two_record_file(tmp_path: Path) -> Path:
    path = tmp_path / "two.tfrecord"
    write_tfrecord(path, [b"alpha", b"bravo-charlie"])
    return path


def test_data_crc_failure_names_file_and_offset(tmp_path):
    path = two_record_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[21 + 12 + 3] ^= 0x01  # a bit of the second record's data (it starts at 12 + 5 + 4 = 21)
    path.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match=r"two\.tfrecord: corrupt record at byte offset 21: data CRC"):
        list(iter_tfrecord(path))
    assert next(iter_tfrecord(path)) == b"alpha"


def test_length_crc_failure(tmp_path):
    path = two_record_file(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[21] ^= 0x01  # the second record's length
    path.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match=r"two\.tfrecord: corrupt record at byte offset 21: length CRC"):
        index_tfrecord(path)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (3, "truncated record at byte offset 21: it needs 13 data bytes and a 4-byte CRC, only 14"),
        (24, "truncated record header at byte offset 21"),
    ],
)
def test_truncated_file(tmp_path, cut, message):
    path = two_record_file(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - cut])
    with pytest.raises(TFRecordError, match=rf"two\.tfrecord: {message}"):
        index_tfrecord(path)


# ----------------------------------------------------------------------------------------- protobuf


def varint(value: int) -> bytes:
    out = b""
    while value > 0x7F:
        out += bytes([value & 0x7F | 0x80])
        value >>= 7
    return out + bytes([value])


def delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_hand_encoded_unpacked_lists_and_unknown_fields():
    # FloatList with two unpacked fixed32 values; Int64List with unpacked varints; an unknown field 7
    floats = b"".join(varint(1 << 3 | 5) + struct.pack("<f", v) for v in (1.5, -2.0))
    ints = varint(1 << 3 | 0) + varint(3) + varint(1 << 3 | 0) + varint(2**64 - 5)  # 3, -5
    feature_f = delimited(2, floats)
    feature_i = delimited(3, ints) + varint(7 << 3 | 0) + varint(99)
    entries = delimited(1, delimited(1, b"f") + delimited(2, feature_f))
    entries += delimited(1, delimited(1, b"i") + delimited(2, feature_i))
    parsed = parse_example(delimited(1, entries))
    np.testing.assert_array_equal(parsed["f"], np.array([1.5, -2.0], dtype=np.float32))
    assert parsed["f"].dtype == np.float32
    assert parsed["i"].tolist() == [3, -5]
    with pytest.raises(ProtobufDecodeError, match="needs 10 bytes"):
        parse_example(varint(1 << 3 | 2) + varint(10) + b"abc")


def tf_example_classes():
    """tf.train.Example / SequenceExample message classes built from descriptors with protobuf."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field_proto = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="test_tf_example.proto", package="tft", syntax="proto3"
    )

    def message(name, parent=None):
        return (parent.nested_type if parent else file_proto.message_type).add(name=name)

    def field(msg, name, number, kind, *, repeated=False, type_name=None, oneof=None):
        f = msg.field.add(name=name, number=number, type=kind)
        f.label = field_proto.LABEL_REPEATED if repeated else field_proto.LABEL_OPTIONAL
        if type_name:
            f.type_name = ".tft." + type_name
        if oneof is not None:
            f.oneof_index = oneof

    field(message("BytesList"), "value", 1, field_proto.TYPE_BYTES, repeated=True)
    field(message("FloatList"), "value", 1, field_proto.TYPE_FLOAT, repeated=True)
    field(message("Int64List"), "value", 1, field_proto.TYPE_INT64, repeated=True)
    feature = message("Feature")
    feature.oneof_decl.add(name="kind")
    for number, name in enumerate(("BytesList", "FloatList", "Int64List"), start=1):
        snake = {"BytesList": "bytes_list", "FloatList": "float_list", "Int64List": "int64_list"}[name]
        field(feature, snake, number, field_proto.TYPE_MESSAGE, type_name=name, oneof=0)
    for outer, entry_name, value_type, list_field in (
        ("Features", "FeatureEntry", "Feature", "feature"),
        ("FeatureLists", "FeatureListEntry", "FeatureList", "feature_list"),
    ):
        if value_type == "FeatureList":
            field(
                message("FeatureList"),
                "feature",
                1,
                field_proto.TYPE_MESSAGE,
                repeated=True,
                type_name="Feature",
            )
        container = message(outer)
        entry = message(entry_name, container)
        entry.options.map_entry = True
        field(entry, "key", 1, field_proto.TYPE_STRING)
        field(entry, "value", 2, field_proto.TYPE_MESSAGE, type_name=value_type)
        field(
            container,
            list_field,
            1,
            field_proto.TYPE_MESSAGE,
            repeated=True,
            type_name=f"{outer}.{entry_name}",
        )
    field(message("Example"), "features", 1, field_proto.TYPE_MESSAGE, type_name="Features")
    sequence = message("SequenceExample")
    field(sequence, "context", 1, field_proto.TYPE_MESSAGE, type_name="Features")
    field(sequence, "feature_lists", 2, field_proto.TYPE_MESSAGE, type_name="FeatureLists")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tft.{name}"))
        for name in ("Example", "SequenceExample")
    )


def test_decoder_agrees_with_protobuf_library():
    example_cls, sequence_cls = tf_example_classes()
    example = example_cls()
    example.features.feature["id"].bytes_list.value.append(b"Xy9z")
    example.features.feature["labels"].int64_list.value.extend([0, 17, 3861, -1, 2**40])
    rgb = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    example.features.feature["mean_rgb"].float_list.value.extend(rgb.tolist())
    parsed = parse_example(example.SerializeToString())
    assert parsed["id"] == [b"Xy9z"]
    assert parsed["labels"].tolist() == [0, 17, 3861, -1, 2**40]
    np.testing.assert_array_equal(parsed["mean_rgb"], rgb)

    # and our encoder produces what protobuf reads
    encoded = encode_example({"id": b"Xy9z", "labels": [0, 17, 3861, -1, 2**40], "mean_rgb": rgb})
    decoded = example_cls.FromString(encoded)
    assert decoded == example

    sequence = sequence_cls()
    sequence.context.feature["id"].bytes_list.value.append(b"abcd")
    sequence.context.feature["labels"].int64_list.value.extend([4, 9])
    frames = [bytes([k] * 6) for k in range(3)]
    for frame in frames:
        sequence.feature_lists.feature_list["rgb"].feature.add().bytes_list.value.append(frame)
    context, lists = parse_sequence_example(sequence.SerializeToString())
    assert context["id"] == [b"abcd"] and context["labels"].tolist() == [4, 9]
    assert lists["rgb"] == [[f] for f in frames]
    ours = encode_sequence_example({"id": b"abcd", "labels": [4, 9]}, {"rgb": [[f] for f in frames]})
    assert sequence_cls.FromString(ours) == sequence


def test_dequantize_matches_starter_code_formula():
    codes = np.array([0, 1, 127, 128, 255], dtype=np.uint8)
    expected = codes.astype(np.float64) * (4.0 / 255.0) + 4.0 / 512.0 - 2.0
    out = dequantize(codes)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    assert out[0] == pytest.approx(-1.9921875)
    with pytest.raises(ValueError, match="must exceed"):
        dequantize(codes, 1.0, 1.0)


# ------------------------------------------------------------------------------------------ dataset


def video_level_records(rng: np.random.Generator, ids, labels):
    records, truth = [], []
    for video_id, video_labels in zip(ids, labels):
        rgb = rng.standard_normal(1024).astype(np.float32)
        audio = rng.standard_normal(128).astype(np.float32)
        fields = {"id": video_id.encode(), "labels": video_labels, "mean_rgb": rgb, "mean_audio": audio}
        records.append(encode_example(fields))
        truth.append((rgb, audio))
    return records, truth


def test_video_level_dataset_random_access(tmp_path):
    rng = np.random.default_rng(0)
    records, truth = video_level_records(rng, ["aaaa", "bbbb", "cccc"], [[1, 5], [], [3861]])
    write_tfrecord(tmp_path / "train00.tfrecord", records[:2])
    write_tfrecord(tmp_path / "train01.tfrecord", records[2:])
    dataset = YouTube8MDataset(str(tmp_path / "train*.tfrecord"))
    assert len(dataset) == 3
    features, labels, info = dataset[2]  # the second file, read first
    assert features.shape == (1152,) and features.dtype == torch.float32
    np.testing.assert_array_equal(features.numpy(), np.concatenate(truth[2]))
    assert labels.shape == (3862,) and labels.sum() == 1 and labels[3861] == 1
    assert info["id"] == "cccc" and info["file"].endswith("train01.tfrecord") and info["skipped"] == 0
    _, labels0, info0 = dataset[0]
    assert torch.nonzero(labels0).ravel().tolist() == [1, 5] and info0["id"] == "aaaa"
    assert dataset[1][1].sum() == 0
    rgb_only = YouTube8MDataset(tmp_path, features=("rgb",), num_classes=4000)
    np.testing.assert_array_equal(rgb_only[1][0].numpy(), truth[1][0])
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch[0].shape == (3, 1152) and batch[2]["id"] == ["aaaa", "bbbb", "cccc"]


def test_frame_level_dataset_dequantizes_truncates_and_pads(tmp_path):
    rng = np.random.default_rng(1)
    videos = []
    for video_id, frames in (("long", 5), ("shrt", 2)):
        rgb = rng.integers(0, 256, (frames, 1024), dtype=np.uint8)
        audio = rng.integers(0, 256, (frames, 128), dtype=np.uint8)
        videos.append((rgb, audio))
        record = encode_sequence_example(
            {"id": video_id.encode(), "labels": [7]},
            {"rgb": [[row.tobytes()] for row in rgb], "audio": [[row.tobytes()] for row in audio]},
        )
        write_tfrecord(tmp_path / f"{video_id}.tfrecord", [record])
    files = [tmp_path / "long.tfrecord", tmp_path / "shrt.tfrecord"]
    dataset = YouTube8MDataset(files, level="frame", max_frames=4)
    features, labels, info = dataset[0]
    assert features.shape == (4, 1152) and info["num_frames"] == 4 and info["id"] == "long"
    rgb, audio = videos[0]
    expected = np.concatenate([rgb[:4], audio[:4]], axis=1).astype(np.float64) * 4 / 255 + 4 / 512 - 2
    np.testing.assert_allclose(features.numpy(), expected, atol=1e-6)
    assert labels[7] == 1
    features, _, info = dataset[1]
    assert info["num_frames"] == 2 and features.shape == (4, 1152)
    assert torch.all(features[2:] == 0) and torch.all(features[:2] != 0)
    unpadded = YouTube8MDataset(files, level="frame", max_frames=4, pad_frames=False)
    assert unpadded[1][0].shape == (2, 1152)


def test_dataset_errors_name_file_and_record(tmp_path):
    records, _ = video_level_records(np.random.default_rng(2), ["aaaa", "bbbb"], [[1], [5000]])
    path = tmp_path / "bad.tfrecord"
    write_tfrecord(path, records)
    dataset = YouTube8MDataset(path)
    second = len(records[0]) + 16
    with pytest.raises(
        ValueError, match=rf"bad\.tfrecord: record 1 at byte offset {second}: label 5000 is outside"
    ):
        dataset[1]
    with pytest.raises(ProtobufDecodeError, match=r"'rgb' is missing.*use level='video'"):
        YouTube8MDataset(path, level="frame")[0]
    with pytest.raises(FileNotFoundError, match=r"YouTube-8M file not found: .*nothere\.tfrecord"):
        YouTube8MDataset(tmp_path / "nothere.tfrecord")
    with pytest.raises(ValueError, match="level must be 'video' or 'frame'"):
        YouTube8MDataset(path, level="segment")
    with pytest.raises(IndexError, match="index 2 out of range for 2 records"):
        dataset[2]


def test_on_error_skip(tmp_path):
    records, _ = video_level_records(np.random.default_rng(3), ["aaaa", "bbbb", "cccc"], [[1], [2], [3]])
    path = tmp_path / "corrupt.tfrecord"
    write_tfrecord(path, records)
    raw = bytearray(path.read_bytes())
    raw[len(records[0]) + 16 + 12 + 40] ^= 0xFF  # inside record 1's data
    path.write_bytes(bytes(raw[:-5]))  # and cut into record 2
    with pytest.raises(TFRecordError, match=r"corrupt\.tfrecord: truncated record"):
        YouTube8MDataset(path)
    dataset = YouTube8MDataset(path, on_error="skip")
    assert len(dataset) == 2 and dataset.num_skipped == 1  # the truncated tail
    _, labels, info = dataset[1]  # record 1 fails its CRC and is replaced by record 0
    assert info["id"] == "aaaa" and info["skipped"] == 1 and labels[1] == 1
    assert dataset.num_skipped == 2
