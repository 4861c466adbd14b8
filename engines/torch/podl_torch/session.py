"""One training run's state: weights, optimizer slots and data on the device, ready to run any
global step. The same arithmetic as createSession in agents/ml/train.ts:

- loss: mean sparse cross-entropy on the softmax outputs clipped to [1e-7, 1 - 1e-7], plus the
  watermark hinge  λ · Σ_t relu(0.5 − s_t · (X · w̄)_t)  on the first trainable kernel;
- optimizers with TensorFlow.js's formulas and defaults (epsilon 1e-7; adam β 0.9/0.999 with the
  bias corrections kept as running float32 products; rmsprop decay 0.9, no momentum, epsilon
  inside the square root), not torch.optim's;
- optimizer state named and ordered as tfjs's getWeights: `optimizer.iterations`, then the slots
  (adam: every m, then every v; rmsprop: every mean square, then every moment), created at the
  first step, so checkpoint 0 holds the iteration count alone.

Batches come from `order.<epoch>` tensors (the keccak permutation, computed on the TypeScript side,
mapped to this session's rows), so no keccak is needed here.
"""

import torch

from .model import check_trainable, head_forward, sml_forward, weight_layout

EPSILON = 1e-7
WATERMARK_MARGIN = 0.5
SML_CACHE_BYTES = 256 << 20


class Session:
    def __init__(self, spec, hyper, inputs, strength, device):
        check_trainable(spec)
        self.spec = spec
        self.hyper = hyper
        self.device = device
        self.layout = weight_layout(spec)
        self.n = int(inputs["meta.n"].item()) if "meta.n" in inputs else inputs["y"].shape[0]
        self.batch = hyper["batchSize"]
        self.per_epoch = -(-self.n // self.batch)
        self.weights = {}
        for name, shape, trainable in self.layout:
            t = inputs[name].to(device=device, dtype=torch.float32).reshape(shape).clone()
            self.weights[name] = t.requires_grad_(trainable)
        self.trainable = [name for name, _, trainable in self.layout if trainable]
        self.first_kernel = next(n for n in self.trainable if n.endswith(".kernel"))
        self.strength = strength
        if strength > 0:
            self.wm_x = inputs["watermark.x"].to(device)
            self.wm_b = inputs["watermark.b"].to(device)
        self.orders = {int(k.split(".")[1]): v.to(torch.int64) for k, v in inputs.items() if k.startswith("order.")}
        x = inputs["x"].to(device)
        self.y = inputs["y"].to(device=device, dtype=torch.int64)
        per_row = x[:1].numel() and sml_forward(spec, self.weights["sml.kernel"], x[:1]).numel()
        self.cached = per_row * x.shape[0] * 4 <= SML_CACHE_BYTES
        if self.cached:
            with torch.no_grad():
                self.features = torch.cat([sml_forward(spec, self.weights["sml.kernel"], x[k : k + 4096]) for k in range(0, x.shape[0], 4096)])
        else:
            self.features = x
        self.iterations = 0
        self.slots = None  # created at the first step, as tfjs does
        self.acc_beta1 = torch.tensor(0.9, dtype=torch.float32)
        self.acc_beta2 = torch.tensor(0.999, dtype=torch.float32)

    def rows(self, step):
        epoch, k = divmod(step, self.per_epoch)
        order = self.orders.get(epoch)
        if order is None:
            raise IndexError(f"step {step} needs order.{epoch}, which the input does not hold")
        rows = order[k * self.batch : (k + 1) * self.batch]
        if bool((rows < 0).any()):
            raise IndexError(f"step {step} needs rows outside the session's subset")
        return rows

    def step(self, step):
        """One optimizer step on global step `step`'s batch; returns the loss as a 0-d tensor."""
        rows = self.rows(step).to(self.device)
        xb = self.features.index_select(0, rows)
        yb = self.y.index_select(0, rows)
        for name in self.trainable:
            self.weights[name].grad = None
        updates = []
        h = xb if self.cached else sml_forward(self.spec, self.weights["sml.kernel"], xb)
        probs = head_forward(self.spec, self.weights, h, training=True, on_moving_average=lambda *a: updates.append(a))
        clipped = torch.clamp(probs, 1e-7, 1 - 1e-7)
        picked = torch.log(clipped).gather(1, yb.unsqueeze(1)).squeeze(1)
        loss = -picked.mean()
        if self.strength > 0:
            kernel = self.weights[self.first_kernel]
            w_bar = kernel.reshape(-1, kernel.shape[-1]).mean(dim=1)
            logits = self.wm_x @ w_bar
            loss = loss + torch.relu(WATERMARK_MARGIN - self.wm_b * logits).sum() * self.strength
        grads = torch.autograd.grad(loss, [self.weights[n] for n in self.trainable])
        with torch.no_grad():
            for name, momentum, mean, var in updates:
                for stat, value in ((f"{name}.movingMean", mean), (f"{name}.movingVariance", var)):
                    orig = self.weights[stat]
                    orig.copy_(orig - (orig - value) * (1 - momentum))
            self._apply(grads)
        return loss.detach()

    def _apply(self, grads):
        name = self.spec["optimizer"]["name"]
        lr = self.hyper["learningRate"]
        params = [self.weights[n] for n in self.trainable]
        if name != "sgd" and self.slots is None:
            self.slots = [torch.zeros_like(p) for p in params] + [torch.zeros_like(p) for p in params]
        count = len(params)
        if name == "sgd":
            for p, g in zip(params, grads):
                p.copy_(p + g * -lr)
        elif name == "adam":
            one_minus1 = (1 - self.acc_beta1).to(self.device)
            one_minus2 = (1 - self.acc_beta2).to(self.device)
            for k, (p, g) in enumerate(zip(params, grads)):
                m, v = self.slots[k], self.slots[count + k]
                m.copy_(m * 0.9 + g * (1 - 0.9))
                v.copy_(v * 0.999 + g.square() * (1 - 0.999))
                p.copy_((m / one_minus1) / (torch.sqrt(v / one_minus2) + EPSILON) * -lr + p)
            self.acc_beta1 = self.acc_beta1 * 0.9
            self.acc_beta2 = self.acc_beta2 * 0.999
        elif name == "rmsprop":
            for k, (p, g) in enumerate(zip(params, grads)):
                ms, mom = self.slots[k], self.slots[count + k]
                ms.copy_(ms * 0.9 + g.square() * (1 - 0.9))
                mom.copy_(mom * 0.0 + (g * lr) / torch.sqrt(ms + EPSILON))
                p.copy_(p - mom)
        else:
            raise ValueError(f"optimizer.name {name!r} is not one of sgd, adam, rmsprop")
        self.iterations += 1

    def snapshot(self):
        """(weights, optimizer) as ordered lists of (name, tensor): the checkpoint's content."""
        weights = [(n, self.weights[n].detach()) for n, _, _ in self.layout if n != "sml.kernel"]
        optimizer = [("optimizer.iterations", torch.tensor(float(self.iterations), dtype=torch.float32))]
        for k, slot in enumerate(self.slots or []):
            optimizer.append((f"optimizer.{k}", slot))
        return weights, optimizer

    def restore(self, weights, optimizer):
        """Loads a checkpoint's weights and optimizer state, Adam's powers as training holds them."""
        with torch.no_grad():
            for name, value in weights.items():
                self.weights[name].copy_(value.to(self.device).reshape(self.weights[name].shape))
        self.iterations = int(optimizer["optimizer.iterations"].item())
        slots = sorted((int(k.split(".")[1]), v) for k, v in optimizer.items() if k != "optimizer.iterations")
        self.slots = [v.to(device=self.device, dtype=torch.float32).clone() for _, v in slots] or None
        self.acc_beta1 = trained_power(0.9, self.iterations)
        self.acc_beta2 = trained_power(0.999, self.iterations)


def trained_power(beta, iterations):
    """β^(iterations+1) as training accumulates it: one float32 product per step, not pow, which
    differs in the last bits (agents/ml/adam-powers.ts: the CNN grew that past the replay tolerance)."""
    b = torch.tensor(beta, dtype=torch.float32)
    power = b.clone()
    for _ in range(iterations):
        power = power * b
    return power
