"""The JSON-lines loop: one command per stdin line, events and replies on stdout, one per line.

Commands (the TypeScript side is agents/ml/engines/torch.ts; docs/torch.md has the protocol):
  {"cmd": "check"}                                   → {"type": "check", ...}
  {"cmd": "forward", "spec", "weights", "x", "out"}  → {"type": "forward", "path"}
  {"cmd": "train", "spec", "hyper", "strength", "input", "outDir", "askAfterEpoch"}
      → {"type": "checkpoint", "i", "step", "path"} ... {"type": "epoch", "epoch", "step", "loss",
        "elapsedMs", "weights"?}; with askAfterEpoch the worker then waits for {"cmd": "continue"}
        or {"cmd": "stop"}; finally {"type": "done", "steps", "epochs", "weights", "trainMs"}
  {"cmd": "replay", "spec", "hyper", "input", "segments": [{"from", "toStep"}], "outDir"}
      → {"type": "replayed", "paths"}
Failures answer {"type": "error", "code", "message"}; the loop goes on until stdin closes.
Tensors travel as safetensors files; checkpoints in the podl-checkpoint/1 layout.
"""

import json
import os
import platform
import sys
import time
import traceback

import torch

from . import safetensors_io
from .model import UnsupportedSpec, forward
from .session import Session

CHECKPOINT_FORMAT = "podl-checkpoint/1"


def configure(device_name=None):
    """Deterministic settings, then the device: CUDA when present unless PODL_TORCH_DEVICE says cpu."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False  # TF32 would round products to 10-bit mantissas
    torch.backends.cudnn.allow_tf32 = False
    threads = int(os.environ.get("PODL_TORCH_THREADS", "1"))
    torch.set_num_threads(threads)
    wanted = device_name or os.environ.get("PODL_TORCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)


def check_report(device):
    return {
        "type": "check",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "device": str(device),
        "cuda": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "deterministic": {
            "algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnnDeterministic": torch.backends.cudnn.deterministic,
            "cudnnBenchmark": torch.backends.cudnn.benchmark,
            "matmulTf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnnTf32": torch.backends.cudnn.allow_tf32,
        },
    }


def write_checkpoint(path, i, step, weights, optimizer):
    order = {"weights": [n for n, _ in weights], "optimizer": [n for n, _ in optimizer]}
    meta = {"format": CHECKPOINT_FORMAT, "i": str(i), "step": str(step), "order": json.dumps(order, separators=(",", ":"))}
    safetensors_io.write(path, dict(weights + optimizer), meta)


class Worker:
    def __init__(self, device, inp=sys.stdin, out=sys.stdout):
        self.device = device
        self.inp = inp
        self.out = out

    def emit(self, msg):
        self.out.write(json.dumps(msg) + "\n")
        self.out.flush()

    def next_command(self):
        line = self.inp.readline()
        return None if line == "" else json.loads(line)

    def run(self):
        while True:
            cmd = self.next_command()
            if cmd is None:
                return
            try:
                handler = getattr(self, f"cmd_{cmd.get('cmd')}", None)
                if handler is None:
                    raise ValueError(f"cmd {cmd.get('cmd')!r} is not one of check, forward, train, replay")
                handler(cmd)
            except UnsupportedSpec as e:
                self.emit({"type": "error", "code": "UNSUPPORTED", "message": str(e)})
            except Exception as e:  # reported to the TypeScript side, which raises it there
                self.emit({"type": "error", "code": "FAILED", "message": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=5)})

    def cmd_check(self, cmd):
        self.emit(check_report(self.device))

    def cmd_forward(self, cmd):
        weights, _ = safetensors_io.read(cmd["weights"])
        x, _ = safetensors_io.read(cmd["x"])
        w = {k: v.to(self.device) for k, v in weights.items()}
        y = forward(cmd["spec"], w, x["x"].to(self.device))
        safetensors_io.write(cmd["out"], {"y": y})
        self.emit({"type": "forward", "path": cmd["out"]})

    def cmd_train(self, cmd):
        started = time.perf_counter()
        inputs, _ = safetensors_io.read(cmd["input"])
        hyper = cmd["hyper"]
        spec = cmd["spec"]
        s = Session(spec, hyper, inputs, cmd["strength"], self.device)
        every = spec["checkpointEvery"]
        out_dir = cmd["outDir"]
        total = s.per_epoch * hyper["epochs"]
        count = 0

        def checkpoint(step):
            nonlocal count
            path = os.path.join(out_dir, f"checkpoint-{count}.safetensors")
            write_checkpoint(path, count, step, *s.snapshot())
            self.emit({"type": "checkpoint", "i": count, "step": step, "path": path})
            count += 1
            return step

        last = checkpoint(0)
        epochs = hyper["epochs"]
        epoch = 0
        while epoch < epochs:
            loss_sum = torch.zeros((), device=self.device)
            for k in range(s.per_epoch):
                done = epoch * s.per_epoch + k + 1
                loss_sum += s.step(done - 1)
                if done % every == 0 or done == total:
                    last = checkpoint(done)
            done = (epoch + 1) * s.per_epoch
            event = {"type": "epoch", "epoch": epoch, "step": done, "loss": loss_sum.item() / s.per_epoch, "elapsedMs": (time.perf_counter() - started) * 1000, "cpuMs": time.process_time() * 1000}
            ask = cmd.get("askAfterEpoch", False) and epoch + 1 < epochs
            if ask:
                event["weights"] = os.path.join(out_dir, f"epoch-{epoch}.safetensors")
                safetensors_io.write(event["weights"], dict(s.snapshot()[0]))
            self.emit(event)
            if ask:
                answer = self.next_command()
                if answer is None:
                    return
                if answer.get("cmd") == "stop":
                    epochs = epoch + 1
                    if last != done:
                        last = checkpoint(done)
            epoch += 1
        weights = os.path.join(out_dir, "weights.safetensors")
        safetensors_io.write(weights, dict(s.snapshot()[0]))
        self.emit({"type": "done", "steps": epochs * s.per_epoch, "epochs": epochs, "weights": weights, "trainMs": (time.perf_counter() - started) * 1000})

    def cmd_replay(self, cmd):
        inputs, _ = safetensors_io.read(cmd["input"])
        s = Session(cmd["spec"], cmd["hyper"], inputs, cmd["strength"], self.device)
        paths = []
        for k, seg in enumerate(cmd["segments"]):
            tensors, meta = safetensors_io.read(seg["from"])
            order = json.loads(meta["order"])
            s.restore({n: tensors[n] for n in order["weights"]}, {n: tensors[n] for n in order["optimizer"]})
            for step in range(int(meta["step"]), seg["toStep"]):
                s.step(step)
            path = os.path.join(cmd["outDir"], f"replayed-{k}.safetensors")
            write_checkpoint(path, int(meta["i"]) + 1, seg["toStep"], *s.snapshot())
            paths.append(path)
        self.emit({"type": "replayed", "paths": paths})


def main(argv):
    device = configure()
    if "--check" in argv:
        print(json.dumps(check_report(device)))
        return 0
    Worker(device).run()
    return 0
