import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import { presets } from "../../../agents/ml/spec.js";
import { createLogger } from "../../../agents/log/logger.js";
import { preparePublication } from "../../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../../agents/storage/index.js";
import { SubmissionError } from "../../../agents/protocol/submission.js";
import { createScorer } from "../../../agents/verifier/evaluate.js";
import { invalidTestDataVerdicts } from "../../../agents/verifier/invalid-data.js";
import { INVALID_DATA, scoresCommitment } from "../../../agents/verifier/scores.js";
import type { ScoringInput } from "../../../agents/verifier/agent.js";

const SEED = `0x${"5e".repeat(32)}`;

describe("verifier: invalid task data (issue 9 item 7)", function () {
  this.timeout(120_000);
  let dir: string;
  let store: EmbeddedStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "podl-invalid-data-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "store") });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("attests INVALID_DATA for every submission when a test shard key does not decrypt its shard, 0 with valid data", async () => {
    const pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store, providers: [] });
    const keys = pub.shards.map((s, index) => ({ index, cidHash: keccak256(toUtf8Bytes(s.cid)), key: s.key }));
    const testKeys = keys.slice(0, 3);
    const scorer = createScorer({ store, replaySegments: 0, maxArtifactBytes: 1_000_000, fetchTimeoutMs: 5_000, log: createLogger({ agent: "verifier", level: "silent" }) });
    const submissions = [0, 1].map((i) => ({ miner: `0x${String(i + 1).repeat(40)}`, modelHash: `0x${"00".repeat(32)}`, checkpointRoot: `0x${"00".repeat(32)}`, commitSeq: i })) as unknown as ScoringInput["submissions"];
    const input: ScoringInput = { taskId: 1n, round: 0, seed: SEED, seed2: SEED, specCid: pub.specCid, trainKeys: [], testKeys, submissions };

    // the corrupted key: test shard 1 unlocked with shard 2's key (the publisher's fault)
    const corrupted = testKeys.map((k) => (k.index === 1 ? { ...k, key: keys[2]!.key } : k));
    const verdicts = await scorer({ ...input, testKeys: corrupted });
    expect(verdicts.map((v) => v.scoreBps)).to.deep.equal([INVALID_DATA, INVALID_DATA]);
    expect(verdicts[0]!.reason).to.equal("test-data");

    // the same task with its real keys: the submissions are judged on their own (here: no CID, 0)
    const honest = await scorer(input);
    expect(honest.map((v) => v.scoreBps)).to.deep.equal([0, 0]);
    expect(honest[0]!.reason).to.equal("fetch");
  });

  it("keeps the old rule outside the test shards, and commits the sentinel like any score", () => {
    const bad = new SubmissionError("SHARD_INVALID", "shard 4: wrong key");
    expect(invalidTestDataVerdicts("train", bad, 2)).to.equal(undefined);
    expect(invalidTestDataVerdicts("document", new SubmissionError("DOCUMENT_INVALID", "not JSON"), 2)).to.equal(undefined);
    expect(invalidTestDataVerdicts("test", new SubmissionError("UNAVAILABLE", "no provider"), 2)).to.equal(undefined);
    expect(invalidTestDataVerdicts("test", bad, 2)!.map((v) => v.scoreBps)).to.deep.equal([INVALID_DATA, INVALID_DATA]);
    const c = { settlement: `0x${"11".repeat(20)}`, chainId: 31337n, taskId: 1n, round: 0n, validator: `0x${"22".repeat(20)}`, salt: `0x${"33".repeat(32)}` };
    expect(scoresCommitment({ ...c, scores: [INVALID_DATA] })).to.match(/^0x[0-9a-f]{64}$/);
    expect(() => scoresCommitment({ ...c, scores: [INVALID_DATA - 1] })).to.throw(RangeError);
  });
});
