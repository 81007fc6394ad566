#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus/cbor_typed/ (run from fuzz/). Seed names start
with the short name of the type they must decode into (see core/src/internal/typed.rs),
or with `bad_`/`truncated_` when no typed target may accept them."""
import os
import struct


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


class F32(float):
    pass


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def enc(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, Tag):
        return head(6, v.tag) + enc(v.value)
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, F32):
        return b"\xfa" + struct.pack(">f", v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(v)


def rid(table, key):
    return Tag(8, [table, key])


def dt(secs, nanos):
    return Tag(12, [secs, nanos])


NONE = Tag(6, None)

doc = {
    "id": rid("person", "tobie"),
    "name": "Tobie",
    "count": 7,
    "big": 1 << 40,
    "delta": -300,
    "ratio": 0.25,
    "small": F32(1.5),
    "flag": True,
    "nick": None,
    "tags": ["a", "ü"],
    "inner": {"a": 1, "b": "x"},
    "kind": {"Struct": {"x": 2.5, "inner": {"a": -1, "b": None}}},
    "map": {"k": 1, "l": -2},
    "at": dt(1_700_000_000, 5),
    "any": {"nested": [1, 2.5, "s", Tag(37, bytes(range(16)))]},
    "extra": [{"a": 3, "b": None}],
    "type": "Unit",
}
minimal = {k: v for k, v in doc.items() if k not in ("extra", "type")}
minimal.update(nick="n", kind="Unit", any=None, id=rid("t", 42))

seeds = {
    "doc_full": doc,
    "doc_minimal": minimal,
    "doc_nan_ratio": dict(doc, ratio=float("nan"), any=float("nan")),
    "doc_rid_object_key": dict(doc, id=rid("t", {"k": [1, "a"]})),
    "docs_two": [doc, minimal],
    "kind_unit": "Unit",
    "kind_newtype": {"Newtype": -5},
    "kind_tuple": {"Tuple": [255, "x"]},
    "tagged_a": {"t": "A", "n": 1},
    "tagged_b": {"t": "B", "s": "x", "when": dt(-1, 999_999_999)},
    "tagged_c": {"t": "C", "a": 1, "b": None},
    "untagged_rid": rid("person", 1),
    "untagged_list": [{"a": 1, "b": "z"}],
    "flat_extra": {"id": rid("t", "x"), "a": 1, "b": None, "extra": [1, 2], "z": dt(0, 0)},
    "inner_null": None,
    "map_lists": {"a": [1, 2], "b": []},
    "tuple_six": [1, -5, F32(1.5), "s", b"\x01\x02", True],
    "tuple_nan_f32": [1, -5, float("nan"), "s", b"", None],
    "tuple_f64_overflows_f32": [1, -5, 1e300, "s", b"", None],
    "rid_text_key": rid("person", "tobie"),
    "rid_range": rid("t", Tag(49, [Tag(50, 1), Tag(51, 9)])),
    "datetime_tagged": dt(1_700_000_000, 123),
    "datetime_text": Tag(0, "2024-02-29T12:00:00.5Z"),
    "value_nested": {"a": [NONE, None, Tag(14, [1, 2])], "b": Tag(56, [1, 2])},
}

out = os.path.join(os.path.dirname(__file__), "..", "corpus", "cbor_typed")
os.makedirs(out, exist_ok=True)
for name, v in seeds.items():
    with open(os.path.join(out, name + ".cbor"), "wb") as f:
        f.write(enc(v))
# Malformed: no typed target (not even Value) may accept these.
raw = {
    "bad_trailing": enc(doc) + b"\x00",
    "truncated_doc": enc(doc)[:-3],
    "bad_break": b"\xff",
    "bad_huge_array": b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",
}
for name, b in raw.items():
    with open(os.path.join(out, name + ".cbor"), "wb") as f:
        f.write(b)
