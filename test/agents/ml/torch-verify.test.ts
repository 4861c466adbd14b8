import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { buildManifest } from "../../../agents/ml/checkpoints.js";
import type { Checkpoint } from "../../../agents/ml/checkpoints.js";
import { replayTorch, trainTorch } from "../../../agents/ml/engines/torch.js";
import type { TorchTrainResult } from "../../../agents/ml/engines/torch.js";
import { DEFAULT_TOLERANCE, normalisedDistance, segmentDistance } from "../../../agents/ml/replay.js";
import { verifySubmission } from "../../../agents/ml/verify.js";
import { watermarkReader } from "../../../agents/ml/watermark.js";
import { irisDataset, irisRun, IRIS_EPOCHS, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";
import { honestInput, REPLAY_SEED2, type Run } from "./helpers/hostile.js";
import { torchOrSkip } from "./helpers/torch.js";

const SEED2 = REPLAY_SEED2;


/** The run with checkpoint `i` scaled by 1.01 and the manifest rebuilt: consistent hashes, forged training. */
function forge(run: Run, i: number): Run {
  const checkpoints: Checkpoint[] = run.checkpoints.map((cp, k) =>
    k !== i ? cp : { ...cp, weights: new Map([...cp.weights].map(([n, t]) => [n, { shape: t.shape, data: t.data.map((v) => v * 1.01) }])) },
  );
  return { ...run, checkpoints, manifest: buildManifest(checkpoints, IRIS_SPEC.checkpointEvery) };
}

describe("ml/engines/torch: a PyTorch-trained submission under a TensorFlow.js verifier", function () {
  this.timeout(300_000);
  let torchRun: TorchTrainResult;

  before(async function () {
    await torchOrSkip(this);
    await tf.setBackend("cpu");
    torchRun = await trainTorch(IRIS_SPEC, { seed: SEED, miner: MINER, data: irisDataset(), hyper: { epochs: IRIS_EPOCHS } });
  });

  it("starts from the seeded init and checkpoints on the tfjs schedule", async () => {
    const tfRun = await irisRun();
    expect(torchRun.manifest.entries.map((e) => e.step)).to.deep.equal(tfRun.manifest.entries.map((e) => e.step));
    // Checkpoint 0 is bit-identical (same init, iteration count 0): the same leaf in both manifests.
    expect(torchRun.manifest.entries[0]).to.deep.equal(tfRun.manifest.entries[0]);
    expect([...torchRun.weights.keys()]).to.deep.equal([...tfRun.weights.keys()]);
  });

  it("is accepted with replay by the tfjs verifier (every segment replayed) and scores like the tfjs run", async () => {
    const r = await verifySubmission(honestInput(torchRun, { replay: { seed2: SEED2, r: torchRun.checkpoints.length - 1 } }));
    expect(r.reason, JSON.stringify(r)).to.equal(undefined);
    expect(r.scoreBps).to.be.above(8500);
    if (r.reason === undefined) for (const s of r.replay!) expect(s.distance).to.be.below(DEFAULT_TOLERANCE / 10);
  });

  it("is rejected (reason replay) when one of its checkpoints is forged", async () => {
    const r = await verifySubmission(honestInput(forge(torchRun, 5), { replay: { seed2: SEED2, r: torchRun.checkpoints.length - 1 } }));
    expect(r).to.include({ scoreBps: 0, reason: "replay" });
  });

  it("stops where stopAfterEpoch says, with a last checkpoint there, and the watermark reads", async () => {
    const read = watermarkReader(IRIS_SPEC, SEED, MINER);
    const seen: number[] = [];
    const run = await trainTorch(IRIS_SPEC, {
      seed: SEED,
      miner: MINER,
      data: irisDataset(),
      hyper: { epochs: 30 },
      stopAfterEpoch: ({ epoch, weights }) => {
        seen.push(epoch);
        return epoch >= 1 && read(weights).detected;
      },
    });
    expect(run.hyper.epochs).to.equal(seen.length).and.be.below(30);
    expect(run.steps).to.equal(run.manifest.entries.at(-1)!.step);
    const r = await verifySubmission(honestInput(run));
    expect(r.reason, JSON.stringify(r)).to.equal(undefined);
  });

  it("replays a tfjs-trained run with torch within tolerance, and a forged one outside it", async () => {
    const tfRun = await irisRun();
    const segments = [0, 4, 8, 14].map((i) => ({ i, from: tfRun.checkpoints[i]!, toStep: tfRun.checkpoints[i + 1]!.step }));
    const opts = { seed: SEED, miner: MINER, data: irisDataset(), hyper: tfRun.hyper };
    const honest = await replayTorch(IRIS_SPEC, opts, segments);
    segments.forEach(({ i, from }, k) => expect(segmentDistance(honest[k]!, tfRun.checkpoints[i + 1]!, from)).to.be.below(DEFAULT_TOLERANCE / 10));
    const forged = forge(tfRun, 5).checkpoints;
    const [d] = await replayTorch(IRIS_SPEC, opts, [{ from: forged[4]!, toStep: forged[5]!.step }]);
    expect(segmentDistance(d!, forged[5]!, forged[4]!)).to.be.above(DEFAULT_TOLERANCE);
  });
});
