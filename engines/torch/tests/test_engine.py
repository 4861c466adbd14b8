"""The worker's own tests: python -m unittest discover -s engines/torch/tests (npm's mocha runs them
through test/ml/torch-python.test.ts). The cross-engine tests live in test/ml/torch-*.test.ts."""

import io
import json
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from podl_torch import safetensors_io  # noqa: E402
from podl_torch.model import UnsupportedSpec, _same_pads, check_trainable, max_pool_nhwc, weight_layout  # noqa: E402
from podl_torch.session import Session, trained_power  # noqa: E402
from podl_torch.worker import Worker, check_report, configure  # noqa: E402

SPEC = {
    "input": {"shape": [4]},
    "classes": 3,
    "sml": {"kind": "dense", "units": 5, "bits": 4},
    "layers": [{"type": "dense", "units": 3, "activation": "softmax", "useBias": True}],
    "optimizer": {"name": "adam", "learningRate": 0.1},
    "checkpointEvery": 2,
}


def inputs(n=6):
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.rand(n, 4, generator=g),
        "y": torch.tensor([0, 1, 2, 0, 1, 2], dtype=torch.int32)[:n],
        "sml.kernel": torch.rand(4, 5, generator=g) - 0.5,
        "layers.0.kernel": torch.rand(5, 3, generator=g) - 0.5,
        "layers.0.bias": torch.zeros(3),
        "order.0": torch.tensor([3, 1, 0, 5, 4, 2], dtype=torch.int32)[:n],
        "order.1": torch.tensor([2, 5, 1, 0, 3, 4], dtype=torch.int32)[:n],
        "watermark.x": torch.rand(2, 5, generator=g) * 2 - 1,
        "watermark.b": torch.tensor([1.0, -1.0]),
    }


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_is_canonical_and_exact(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.safetensors")
            t = {"b": torch.tensor([1.5, -0.0, 3e-38]), "a": torch.tensor([[1, -2]], dtype=torch.int32)}
            safetensors_io.write(path, t, {"k": "v"})
            with open(path, "rb") as f:
                raw = f.read()
            n = int.from_bytes(raw[:8], "little")
            self.assertEqual(n % 8, 0)
            header = json.loads(raw[8 : 8 + n])
            self.assertEqual(list(header), ["__metadata__", "a", "b"])  # sorted keys, a before b
            back, meta = safetensors_io.read(path)
            self.assertEqual(meta, {"k": "v"})
            self.assertTrue(torch.equal(back["a"], t["a"]))
            self.assertEqual(back["b"].numpy().tobytes(), t["b"].numpy().tobytes())


class ModelTest(unittest.TestCase):
    def test_same_padding_puts_the_odd_pixel_after(self):
        self.assertEqual(_same_pads(4, 2, 1), (0, 1))
        self.assertEqual(_same_pads(8, 3, 2), (0, 1))
        self.assertEqual(_same_pads(7, 3, 1), (1, 1))

    def test_same_max_pool_ignores_padding(self):
        x = -torch.ones(1, 3, 3, 1)  # every value below the zero a zero padding would add
        self.assertTrue(torch.equal(max_pool_nhwc(x, 2, 2, "same"), -torch.ones(1, 2, 2, 1)))

    def test_layout_matches_the_spec_names(self):
        self.assertEqual([n for n, _, _ in weight_layout(SPEC)], ["sml.kernel", "layers.0.kernel", "layers.0.bias"])

    def test_dropout_in_training_is_refused(self):
        spec = dict(SPEC, layers=[{"type": "dropout", "rate": 0.5}] + SPEC["layers"])
        with self.assertRaisesRegex(UnsupportedSpec, "layers.0 is dropout"):
            check_trainable(spec)


class SessionTest(unittest.TestCase):
    def session(self, name="adam"):
        spec = dict(SPEC, optimizer={"name": name, "learningRate": 0.1})
        return Session(spec, {"batchSize": 4, "learningRate": 0.1, "epochs": 2}, inputs(), 0.5, torch.device("cpu"))

    def test_checkpoint_zero_holds_the_iteration_count_alone(self):
        _, opt = self.session().snapshot()
        self.assertEqual([n for n, _ in opt], ["optimizer.iterations"])

    def test_adam_first_step_matches_the_tfjs_formula(self):
        s = self.session()
        before = s.weights["layers.0.kernel"].detach().clone()
        s.step(0)
        _, opt = s.snapshot()
        self.assertEqual([n for n, _ in opt], ["optimizer.iterations"] + [f"optimizer.{k}" for k in range(4)])
        m, v = dict(opt)["optimizer.0"], dict(opt)["optimizer.2"]
        g = m / 0.1  # m₁ = (1 − β₁) g
        self.assertTrue(torch.allclose(v, 0.001 * g * g, rtol=1e-4, atol=1e-12))
        step = (m / 0.1) / (torch.sqrt(v / 0.001) + 1e-7) * 0.1
        self.assertTrue(torch.allclose(s.weights["layers.0.kernel"].detach(), before - step, atol=1e-6))

    def test_restore_then_replay_reaches_the_same_weights(self):
        a = self.session()
        a.step(0)
        w, opt = a.snapshot()
        saved = ({n: t.clone() for n, t in w}, {n: t.clone() for n, t in opt})
        a.step(1)
        b = self.session()
        b.restore(*saved)
        b.step(1)
        for name, t in a.snapshot()[0]:
            self.assertTrue(torch.allclose(t, dict(b.snapshot()[0])[name], atol=1e-7), name)

    def test_restore_gives_adams_powers_as_training_multiplied_them(self):
        # training multiplies float32 accumulators once per step; pow differs in the last bits at
        # 65 of the first 100 step counts (β₂ at 5, 18, 19, …), which the CNN grew past tolerance
        acc = torch.tensor(0.999, dtype=torch.float32)
        differs = 0
        for k in range(100):
            if k > 0:
                acc = acc * 0.999
            self.assertEqual(trained_power(0.999, k).item(), acc.item(), k)
            differs += torch.pow(torch.tensor(0.999, dtype=torch.float32), k + 1).item() != acc.item()
        self.assertGreater(differs, 0)
        # five steps (three epochs of two batches): where β₂'s pow first differs
        more = dict(inputs(), **{"order.2": inputs()["order.0"]})
        session = lambda: Session(SPEC, {"batchSize": 4, "learningRate": 0.1, "epochs": 3}, more, 0.5, torch.device("cpu"))
        a = session()
        for step in range(5):
            a.step(step)
        w, opt = a.snapshot()
        b = session()
        b.restore({n: t.clone() for n, t in w}, {n: t.clone() for n, t in opt})
        self.assertEqual((b.acc_beta1.item(), b.acc_beta2.item()), (a.acc_beta1.item(), a.acc_beta2.item()))

    def test_a_subset_session_refuses_rows_it_lacks(self):
        s = self.session()
        s.orders[0] = torch.tensor([0, -1, 2, 3, 4, 5])
        with self.assertRaisesRegex(IndexError, "outside the session's subset"):
            s.step(0)


class WorkerTest(unittest.TestCase):
    def test_check_reports_determinism_flags(self):
        report = check_report(configure("cpu"))
        self.assertEqual(report["device"], "cpu")
        self.assertTrue(report["deterministic"]["algorithms"])
        self.assertFalse(report["deterministic"]["matmulTf32"])

    def test_an_unknown_command_answers_an_error_and_the_loop_goes_on(self):
        out = io.StringIO()
        Worker(torch.device("cpu"), io.StringIO('{"cmd": "fly"}\n{"cmd": "check"}\n'), out).run()
        lines = [json.loads(l) for l in out.getvalue().splitlines()]
        self.assertEqual(lines[0]["type"], "error")
        self.assertIn("not one of check, forward, train, replay", lines[0]["message"])
        self.assertEqual(lines[1]["type"], "check")


if __name__ == "__main__":
    unittest.main()
