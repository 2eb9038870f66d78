"""Independent NumPy (float64, NCHW) transcription of pytorch-fid's FID Inception-v3, used by
inception.test.ts to check the tfjs implementation on generated weights.

usage: python3 inception_ref.py <weights.safetensors> <input.npz> [resize]
input.npz holds `x`: [N, H, W, 3] NHWC in [0, 1]. Prints JSON {dims: [[...features...]]}.
"""
import json
import struct
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[v["dtype"]]
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).astype(np.float64)
    return out


W = read_safetensors(sys.argv[1])


def conv(x, w, stride=1, pad=(0, 0)):
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    kh, kw = w.shape[2], w.shape[3]
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # N C H W kh kw
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


def basic(name, x, stride=1, pad=(0, 0)):
    y = conv(x, W[name + ".conv.weight"], stride, pad)
    g, b = W[name + ".bn.weight"], W[name + ".bn.bias"]
    m, v = W[name + ".bn.running_mean"], W[name + ".bn.running_var"]
    y = (y - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-3) * g[None, :, None, None] + b[None, :, None, None]
    return np.maximum(y, 0)


def max_pool(x, k=3, s=2, p=0):
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s].max(axis=(4, 5))


def avg_pool_no_pad(x):
    ones = np.pad(np.ones(x.shape[2:]), 1)
    cnt = sliding_window_view(ones, (3, 3)).sum(axis=(2, 3))
    s = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3)).sum(axis=(4, 5))
    return s / cnt


def resize_bilinear(x, size):
    # F.interpolate(mode='bilinear', align_corners=False), no antialias
    def axis_weights(inn, out):
        scale = inn / out
        src = np.maximum((np.arange(out) + 0.5) * scale - 0.5, 0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, inn - 1)
        lam = src - i0
        return i0, i1, lam
    y0, y1, ly = axis_weights(x.shape[2], size[0])
    x0, x1, lx = axis_weights(x.shape[3], size[1])
    top = x[:, :, y0] * (1 - ly)[None, None, :, None] + x[:, :, y1] * ly[None, None, :, None]
    return top[:, :, :, x0] * (1 - lx) + top[:, :, :, x1] * lx


def mixed_a(m, x):
    b1 = basic(m + ".branch1x1", x)
    b5 = basic(m + ".branch5x5_2", basic(m + ".branch5x5_1", x), pad=(2, 2))
    b3 = basic(m + ".branch3x3dbl_3", basic(m + ".branch3x3dbl_2", basic(m + ".branch3x3dbl_1", x), pad=(1, 1)), pad=(1, 1))
    bp = basic(m + ".branch_pool", avg_pool_no_pad(x))
    return np.concatenate([b1, b5, b3, bp], 1)


def mixed_c(m, x):
    b1 = basic(m + ".branch1x1", x)
    b7 = basic(m + ".branch7x7_1", x)
    b7 = basic(m + ".branch7x7_2", b7, pad=(0, 3))
    b7 = basic(m + ".branch7x7_3", b7, pad=(3, 0))
    d = basic(m + ".branch7x7dbl_1", x)
    d = basic(m + ".branch7x7dbl_2", d, pad=(3, 0))
    d = basic(m + ".branch7x7dbl_3", d, pad=(0, 3))
    d = basic(m + ".branch7x7dbl_4", d, pad=(3, 0))
    d = basic(m + ".branch7x7dbl_5", d, pad=(0, 3))
    bp = basic(m + ".branch_pool", avg_pool_no_pad(x))
    return np.concatenate([b1, b7, d, bp], 1)


def mixed_e(m, x, use_max):
    b1 = basic(m + ".branch1x1", x)
    b3 = basic(m + ".branch3x3_1", x)
    b3 = np.concatenate([basic(m + ".branch3x3_2a", b3, pad=(0, 1)), basic(m + ".branch3x3_2b", b3, pad=(1, 0))], 1)
    d = basic(m + ".branch3x3dbl_2", basic(m + ".branch3x3dbl_1", x), pad=(1, 1))
    d = np.concatenate([basic(m + ".branch3x3dbl_3a", d, pad=(0, 1)), basic(m + ".branch3x3dbl_3b", d, pad=(1, 0))], 1)
    pooled = max_pool(x, 3, 1, 1) if use_max else avg_pool_no_pad(x)
    bp = basic(m + ".branch_pool", pooled)
    return np.concatenate([b1, b3, d, bp], 1)


x = np.load(sys.argv[2])["x"].astype(np.float64).transpose(0, 3, 1, 2)
if len(sys.argv) > 3 and sys.argv[3] == "resize":
    x = resize_bilinear(x, (299, 299))
x = 2 * x - 1
out = {}
x = basic("Conv2d_1a_3x3", x, stride=2)
x = basic("Conv2d_2a_3x3", x)
x = basic("Conv2d_2b_3x3", x, pad=(1, 1))
x = max_pool(x)
out[64] = x.mean(axis=(2, 3))
x = basic("Conv2d_3b_1x1", x)
x = basic("Conv2d_4a_3x3", x)
x = max_pool(x)
out[192] = x.mean(axis=(2, 3))
x = mixed_a("Mixed_5b", x)
x = mixed_a("Mixed_5c", x)
x = mixed_a("Mixed_5d", x)
b3 = basic("Mixed_6a.branch3x3", x, stride=2)
d = basic("Mixed_6a.branch3x3dbl_3", basic("Mixed_6a.branch3x3dbl_2", basic("Mixed_6a.branch3x3dbl_1", x), pad=(1, 1)), stride=2)
x = np.concatenate([b3, d, max_pool(x)], 1)
for m in ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]:
    x = mixed_c(m, x)
out[768] = x.mean(axis=(2, 3))
b3 = basic("Mixed_7a.branch3x3_2", basic("Mixed_7a.branch3x3_1", x), stride=2)
b7 = basic("Mixed_7a.branch7x7x3_1", x)
b7 = basic("Mixed_7a.branch7x7x3_2", b7, pad=(0, 3))
b7 = basic("Mixed_7a.branch7x7x3_3", b7, pad=(3, 0))
b7 = basic("Mixed_7a.branch7x7x3_4", b7, stride=2)
x = np.concatenate([b3, b7, max_pool(x)], 1)
x = mixed_e("Mixed_7b", x, False)
x = mixed_e("Mixed_7c", x, True)
out[2048] = x.mean(axis=(2, 3))
print(json.dumps({str(k): v.tolist() for k, v in out.items()}))
