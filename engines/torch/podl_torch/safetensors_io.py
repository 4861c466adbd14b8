"""safetensors files (https://github.com/huggingface/safetensors#format), F32 and I32 only.

Written here rather than depending on the `safetensors` wheel: Debian ships no package for it, and
the format is an 8-byte length, a JSON header and raw little-endian data. The writer is canonical
like agents/ml/tensors.ts (names sorted, header keys sorted, no whitespace, padded with spaces to a
multiple of 8), so the TypeScript reader accepts what it writes.
"""

import json
import struct
import sys

import torch

_DTYPES = {"F32": torch.float32, "I32": torch.int32}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Returns ({name: CPU tensor}, metadata) for a file the TypeScript side wrote."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name}: dtype {entry['dtype']} is not F32 or I32")
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        if sys.byteorder != "little":
            flat = flat.view(torch.uint8).view(-1, 4).flip(1).reshape(-1).view(dtype)
        tensors[name] = flat.reshape(entry["shape"])
    return tensors, metadata


def write(path, tensors, metadata=None):
    """Writes {name: tensor} (float32 or int32, any device) with string metadata."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        dtype = _NAMES.get(t.dtype)
        if dtype is None:
            raise ValueError(f"tensor {name}: dtype {t.dtype} is not float32 or int32")
        blob = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"data_offsets": [offset, offset + len(blob)], "dtype": dtype, "shape": list(t.shape)}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
