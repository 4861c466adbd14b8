"""The spec's model (agents/ml/spec.ts, layer subset v1) as PyTorch functions over named tensors.

Weights keep TensorFlow.js's layouts and names (dense kernel [in, out], conv kernel
[k, k, in, out], activations NHWC), so checkpoints move between engines without transposes and the
watermark reads the same kernel. Only the convolution and pooling calls see NCHW, permuted there.
"Same" padding is TensorFlow's: the odd pixel goes after (bottom, right), pooling pads with -inf.
Dropout is refused: TensorFlow.js draws its mask from its own seeded generator, which this engine
does not reproduce (docs/torch.md).
"""

import math

import torch
import torch.nn.functional as F

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "elu": F.elu,
}


class UnsupportedSpec(ValueError):
    """A spec this engine cannot train exactly like TensorFlow.js; the caller falls back to tfjs."""


def weight_layout(spec):
    """[(name, shape, trainable)] in canonical order, as agents/ml/spec.ts weightLayout."""
    shape = list(spec["input"]["shape"])
    sml = spec["sml"]
    out = []
    if sml["kind"] == "dense":
        out.append(("sml.kernel", [shape[0], sml["units"]], False))
        shape = [sml["units"]]
    else:
        out.append(("sml.kernel", [sml["kernelSize"], sml["kernelSize"], shape[2], sml["filters"]], False))
        shape = [shape[0], shape[1], sml["filters"]]
    for i, layer in enumerate(spec["layers"]):
        name = f"layers.{i}"
        kind = layer["type"]
        if kind == "dense":
            out.append((f"{name}.kernel", [shape[0], layer["units"]], True))
            if layer.get("useBias", True):
                out.append((f"{name}.bias", [layer["units"]], True))
            shape = [layer["units"]]
        elif kind == "conv2d":
            k, s = layer["kernelSize"], layer.get("strides", 1)
            out.append((f"{name}.kernel", [k, k, shape[2], layer["filters"]], True))
            if layer.get("useBias", True):
                out.append((f"{name}.bias", [layer["filters"]], True))
            pad = layer.get("padding", "valid")
            shape = [_window_out(shape[0], k, s, pad), _window_out(shape[1], k, s, pad), layer["filters"]]
        elif kind == "maxPooling2d":
            p = layer["poolSize"]
            s = layer.get("strides") or p
            pad = layer.get("padding", "valid")
            shape = [_window_out(shape[0], p, s, pad), _window_out(shape[1], p, s, pad), shape[2]]
        elif kind == "flatten":
            shape = [math.prod(shape)]
        elif kind == "batchNormalization":
            c = shape[-1]
            out += [(f"{name}.gamma", [c], True), (f"{name}.beta", [c], True), (f"{name}.movingMean", [c], False), (f"{name}.movingVariance", [c], False)]
        elif kind == "dropout":
            pass
        else:
            raise UnsupportedSpec(f"layers.{i}.type {kind!r} is not one of dense, conv2d, maxPooling2d, flatten, dropout, batchNormalization")
    return out


def check_trainable(spec):
    """Raises UnsupportedSpec when training this spec here would not match TensorFlow.js."""
    if spec["optimizer"].get("decay") is not None:
        raise UnsupportedSpec("optimizer.decay is set: the torch engine trains at a constant learning rate")
    if (spec.get("augment") or {}).get("shift", 0) > 0:
        raise UnsupportedSpec("augment.shift is set: the torch engine does not draw the seeded shifts (agents/ml/augment.ts)")
    for i, layer in enumerate(spec["layers"]):
        if layer["type"] == "dropout" and layer["rate"] > 0:
            raise UnsupportedSpec(f"layers.{i} is dropout: TensorFlow.js draws its mask from its own seeded generator, which the torch engine does not reproduce")


def _window_out(size, window, strides, padding):
    return math.ceil(size / strides) if padding == "same" else (size - window) // strides + 1


def _same_pads(size, window, strides):
    """TensorFlow's "same" padding for one dimension: (before, after), the extra pixel after."""
    out = math.ceil(size / strides)
    total = max((out - 1) * strides + window - size, 0)
    return total // 2, total - total // 2


def _pad_nchw(x, window, strides, value=0.0):
    top, bottom = _same_pads(x.shape[2], window, strides)
    left, right = _same_pads(x.shape[3], window, strides)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def conv2d_nhwc(x, kernel, bias, strides, padding):
    """TensorFlow's conv2d: x NHWC, kernel [k, k, in, out]."""
    h = x.permute(0, 3, 1, 2)
    if padding == "same":
        h = _pad_nchw(h, kernel.shape[0], strides)
    h = F.conv2d(h, kernel.permute(3, 2, 0, 1), bias, stride=strides)
    return h.permute(0, 2, 3, 1)


def max_pool_nhwc(x, pool, strides, padding):
    h = x.permute(0, 3, 1, 2)
    if padding == "same":
        h = _pad_nchw(h, pool, strides, value=-math.inf)
    return F.max_pool2d(h, pool, strides).permute(0, 2, 3, 1)


def sml_forward(spec, kernel, x):
    """The fixed Secure Mapping Layer: dense without bias, or conv 'same' stride 1 without bias."""
    if spec["sml"]["kind"] == "dense":
        return x.reshape(x.shape[0], -1) @ kernel
    return conv2d_nhwc(x, kernel, None, 1, "same")


def head_forward(spec, w, h, training, on_moving_average=None):
    """The spec's layers after the SML. `w` maps names to tensors; in training, batch
    normalisation uses the batch's moments and hands each layer's (name, mean, variance) to
    `on_moving_average`, as TensorFlow.js updates its moving statistics inside the step."""
    for i, layer in enumerate(spec["layers"]):
        name = f"layers.{i}"
        kind = layer["type"]
        if kind == "dense":
            h = h @ w[f"{name}.kernel"]
            if layer.get("useBias", True):
                h = h + w[f"{name}.bias"]
            h = ACTIVATIONS[layer["activation"]](h)
        elif kind == "conv2d":
            bias = w[f"{name}.bias"] if layer.get("useBias", True) else None
            h = conv2d_nhwc(h, w[f"{name}.kernel"], bias, layer.get("strides", 1), layer.get("padding", "valid"))
            h = ACTIVATIONS[layer["activation"]](h)
        elif kind == "maxPooling2d":
            p = layer["poolSize"]
            h = max_pool_nhwc(h, p, layer.get("strides") or p, layer.get("padding", "valid"))
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
        elif kind == "dropout":
            if training and layer["rate"] > 0:
                raise UnsupportedSpec(f"{name}: dropout in training")
        elif kind == "batchNormalization":
            eps = layer.get("epsilon", 0.001)
            gamma, beta = w[f"{name}.gamma"], w[f"{name}.beta"]
            if training:
                dims = list(range(h.dim() - 1))
                mean = h.mean(dim=dims)
                var = ((h - mean) ** 2).mean(dim=dims)  # biased, as tf.moments
                if on_moving_average is not None:
                    on_moving_average(name, layer.get("momentum", 0.99), mean.detach(), var.detach())
            else:
                mean, var = w[f"{name}.movingMean"], w[f"{name}.movingVariance"]
            h = (h - mean) * gamma / torch.sqrt(var + eps) + beta
    return h


def forward(spec, w, x):
    """Inference: the SML, then the spec's layers; returns the softmax outputs."""
    with torch.no_grad():
        return head_forward(spec, w, sml_forward(spec, w["sml.kernel"], x), training=False)
