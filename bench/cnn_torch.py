"""PyTorch side of bench/cnn.ts: training throughput of the same models on one CPU thread.

Reads one JSON object on stdin: {"models": [...], "batch": 64, "learningRate": 1e-3,
"minSeconds": s, "rounds": r}; each model is the architecture list bench/cnn.ts defines
(input shape in HWC order, layers of conv2d / maxPooling2d / flatten / dense, a frozen layer
marked trainable false). Prints one JSON line: per model, per round, samples, wall seconds and
CPU seconds (time.process_time) of the timed batches, after two untimed warm-up batches.
Each batch is zero_grad, forward, cross-entropy, backward, Adam step and loss.item(), as
TensorFlow.js's trainOnBatch reads its loss back.
"""

import json
import sys
import time

import torch
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def build(model):
    inp = model["input"]
    shape = [inp[2], inp[0], inp[1]] if len(inp) == 3 else [inp[0]]  # NCHW, as PyTorch convolves
    in_shape = list(shape)
    layers = []
    for layer in model["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            k = layer["kernelSize"]
            conv = nn.Conv2d(shape[0], layer["filters"], k, padding="same" if layer.get("padding") == "same" else 0, bias=layer.get("useBias", True))
            if layer.get("trainable", True) is False:
                conv.weight.requires_grad_(False)
            layers.append(conv)
            if layer.get("padding") != "same":
                shape = [layer["filters"], shape[1] - k + 1, shape[2] - k + 1]
            else:
                shape = [layer["filters"], shape[1], shape[2]]
        elif kind == "maxPooling2d":
            p = layer["poolSize"]
            layers.append(nn.MaxPool2d(p))
            shape = [shape[0], shape[1] // p, shape[2] // p]
        elif kind == "flatten":
            layers.append(nn.Flatten())
            n = 1
            for s in shape:
                n *= s
            shape = [n]
        elif kind == "dense":
            lin = nn.Linear(shape[0], layer["units"], bias=layer.get("useBias", True))
            if layer.get("trainable", True) is False:
                lin.weight.requires_grad_(False)
            layers.append(lin)
            shape = [layer["units"]]
        else:
            raise ValueError(f"unknown layer {kind}")
        # softmax is folded into the cross-entropy loss, as usual in PyTorch
        if layer.get("activation") == "relu":
            layers.append(nn.ReLU())
    return nn.Sequential(*layers), in_shape


def measure(model, batch, lr, min_seconds, rounds):
    torch.manual_seed(0)
    net, in_shape = build(model)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand([batch] + in_shape)
    y = torch.randint(0, model["classes"], (batch,))

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    step()
    step()
    out = []
    for _ in range(rounds):
        n = 0
        w0, c0 = time.perf_counter(), time.process_time()
        while n < 3 or time.perf_counter() - w0 < min_seconds:
            step()
            n += 1
        out.append({"samples": n * batch, "wallSeconds": time.perf_counter() - w0, "cpuSeconds": time.process_time() - c0})
    return out


def main():
    job = json.load(sys.stdin)
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "models": {m["name"]: measure(m, job["batch"], job["learningRate"], job["minSeconds"], job["rounds"]) for m in job["models"]},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
