import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { encodeArtifact, modelHash } from "../../../agents/ml/artifact.js";
import { buildManifest } from "../../../agents/ml/checkpoints.js";
import type { Checkpoint } from "../../../agents/ml/checkpoints.js";
import { loadMnist } from "../../../agents/ml/datasets/index.js";
import type { Dataset } from "../../../agents/ml/datasets/index.js";
import { replayTorch, trainTorch } from "../../../agents/ml/engines/torch.js";
import type { TorchTrainResult } from "../../../agents/ml/engines/torch.js";
import { chooseSegments } from "../../../agents/ml/replay.js";
import { parseSpec, presets } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { artifactOf, train } from "../../../agents/ml/train.js";
import type { TrainResult } from "../../../agents/ml/train.js";
import { verifySubmission } from "../../../agents/ml/verify.js";
import type { VerifyInput } from "../../../agents/ml/verify.js";
import { torchOrSkip } from "./helpers/torch.js";

const SEED = `0x${"5e".repeat(32)}`;
const SEED2 = `0x${"77".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";

/**
 * Small enough to replay on tfjs's cpu backend in seconds: the MNIST MLP preset on 300 images, and
 * a CNN of the preset's kinds (conv SML, conv2d, pooling, flatten, dense) on 160, with checkpoints
 * every 4 steps and watermarks that embed within 3 and 4 epochs (strength 1).
 */
const MLP: TaskSpec = { ...presets.mnistMlp, checkpointEvery: 4, watermark: { bits: 32, strength: 1 } };
const CNN: TaskSpec = parseSpec({
  ...presets.mnistCnn,
  name: "mnist-cnn-small",
  sml: { kind: "conv", filters: 4, kernelSize: 3, bits: 4 },
  layers: [
    { type: "conv2d", filters: 4, kernelSize: 3, strides: 2, activation: "relu" },
    { type: "maxPooling2d", poolSize: 2 },
    { type: "flatten" },
    { type: "dense", units: 10, activation: "softmax" },
  ],
  optimizer: { name: "adam", learningRate: 0.01 },
  checkpointEvery: 4,
  watermark: { bits: 16, strength: 1 },
  augment: undefined, // the torch engine refuses the preset's shifts
});

type Run = Pick<TrainResult, "weights" | "manifest" | "checkpoints" | "hyper">;

function submission(spec: TaskSpec, run: Run, data: { train: Dataset; test: Dataset }, replay: VerifyInput["replay"]): VerifyInput {
  const artifact = encodeArtifact(artifactOf(spec, run, { taskId: "3", seed: SEED, miner: MINER }));
  return { taskId: "3", spec, seed: SEED, miner: MINER, test: data.test, train: data.train, artifact, expectedModelHash: modelHash(artifact), manifest: run.manifest, fetchCheckpoint: async (i) => run.checkpoints[i]!, replay };
}

/**
 * One end of the segment SEED2 draws first (the default r = 2 replays it) replaced by the point
 * halfway from the checkpoint before it: the chain hashes, that training did not happen. The end
 * checkpoint, unless it is the last (which must be the submitted model), else the start.
 */
function forge(spec: TaskSpec, run: Run): Run {
  const s = chooseSegments(run.checkpoints, 1, SEED2)[0]!;
  const i = s + 1 < run.checkpoints.length - 1 ? s + 1 : s;
  const [a, b] = [run.checkpoints[i - 1]!, run.checkpoints[i]!];
  const halfway: Checkpoint = { ...b, weights: new Map([...b.weights].map(([n, t]) => [n, { shape: t.shape, data: t.data.map((v, k) => (v + a.weights.get(n)!.data[k]!) / 2) }])) };
  const checkpoints = run.checkpoints.map((cp, k) => (k === i ? halfway : cp));
  return { ...run, checkpoints, manifest: buildManifest(checkpoints, spec.checkpointEvery) };
}

for (const [spec, image, n, epochs] of [[MLP, false, 300, 3], [CNN, true, 160, 4]] as const) {
  describe(`ml/engines/torch: a small ${spec.name} across engines`, function () {
    this.timeout(300_000);
    const data = loadMnist({ train: n, test: 100, image });
    let torchRun: TorchTrainResult;

    before(async function () {
      await torchOrSkip(this);
      await tf.setBackend("cpu");
      torchRun = await trainTorch(spec, { seed: SEED, miner: MINER, data: data.train, hyper: { epochs } });
    });

    it("trained with torch, is accepted by the tfjs verifier with replay", async () => {
      const r = await verifySubmission(submission(spec, torchRun, data, { seed2: SEED2 }));
      expect(r.reason, JSON.stringify(r)).to.equal(undefined);
      expect(r.scoreBps).to.be.above(1000); // better than chance on 10 classes after 3 short epochs
    });

    it("trained with torch and forged, is rejected by the tfjs verifier (reason replay)", async () => {
      const r = await verifySubmission(submission(spec, forge(spec, torchRun), data, { seed2: SEED2 }));
      expect(r).to.include({ scoreBps: 0, reason: "replay" });
    });

    it("trained with tfjs, is accepted by a verifier replaying with torch, and forged, rejected", async () => {
      const tfRun = await train(spec, { seed: SEED, miner: MINER, data: data.train, hyper: { epochs } });
      tfRun.model.dispose();
      const replayer = replayTorch;
      const honest = await verifySubmission(submission(spec, tfRun, data, { seed2: SEED2, replayer }));
      expect(honest.reason, JSON.stringify(honest)).to.equal(undefined);
      const r = await verifySubmission(submission(spec, forge(spec, tfRun), data, { seed2: SEED2, replayer }));
      expect(r).to.include({ scoreBps: 0, reason: "replay" });
    });
  });
}
