import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { encodeArtifact, modelHash } from "../../../agents/ml/artifact.js";
import { MAX_CHECKPOINTS, encodeCheckpoint } from "../../../agents/ml/checkpoints.js";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import { canonicalJson, presets } from "../../../agents/ml/spec.js";
import { artifactOf, train, type TrainResult } from "../../../agents/ml/train.js";
import { verifySubmission } from "../../../agents/ml/verify.js";
import { preparePublication } from "../../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../../agents/storage/index.js";
import { DEEP, nested, openContainer, sealContainer } from "../ml/helpers/hostile.js";
import {
  fetchShards,
  fetchSubmission,
  fetchTaskDocument,
  isSubmissionError,
  prefetchShards,
  submissionBounds,
  uploadSubmission,
  type SubmissionError,
  type SubmissionErrorCode,
} from "../../../agents/protocol/submission.js";

const SPEC = presets.irisMlp;
const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";
const FAST = { timeoutMs: 5_000 };

async function rejects(promise: Promise<unknown>, code: SubmissionErrorCode): Promise<SubmissionError> {
  try {
    await promise;
  } catch (e) {
    expect(isSubmissionError(e, code), `expected SubmissionError ${code}, got ${String(e)}`).to.equal(true);
    return e as SubmissionError;
  }
  throw new Error(`expected SubmissionError ${code}, but it resolved`);
}

describe("submission: artifacts, checkpoints and shards on IPFS", function () {
  this.timeout(120_000);
  let dir: string;
  let miner: EmbeddedStore;
  let verifier: EmbeddedStore;
  let run: TrainResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "podl-submission-"));
    [miner, verifier] = await Promise.all([EmbeddedStore.open({ dataDir: join(dir, "miner") }), EmbeddedStore.open({ dataDir: join(dir, "verifier") })]);
    await verifier.dial(miner.addresses()[0]!);
    await tf.setBackend("cpu");
    run = await train(SPEC, { seed: SEED, miner: MINER, data: loadIris(), hyper: { epochs: 15 } });
    run.model.dispose();
  });
  after(async () => {
    await Promise.all([miner?.close(), verifier?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("round-trips a trained submission to another node, and the fetched parts verify", async () => {
    const up = await uploadSubmission(miner, SPEC, run, { taskId: 7n, seed: SEED, miner: MINER });
    expect(up.checkpointRoot).to.equal(run.manifest.root);
    expect(up.checkpointCids).to.have.length(run.checkpoints.length);

    const got = await fetchSubmission(verifier, up.modelCid, { ...FAST, spec: SPEC, expectedModelHash: up.modelHash });
    expect(Buffer.compare(got.bytes, up.bytes)).to.equal(0);
    expect(got.modelHash).to.equal(up.modelHash);
    expect(got.artifact.checkpoints.manifestCid).to.equal(up.manifestCid);
    expect(got.manifest).to.deep.equal(run.manifest);
    const last = await got.fetchCheckpoint(run.checkpoints.length - 1);
    expect(last.step).to.equal(run.checkpoints.at(-1)!.step);
    expect([...last.weights.keys()]).to.deep.equal([...run.checkpoints.at(-1)!.weights.keys()]);

    const verdict = await verifySubmission({
      taskId: 7n,
      spec: SPEC,
      seed: SEED,
      miner: MINER,
      test: loadIris(),
      train: loadIris(),
      artifact: got.bytes,
      expectedModelHash: up.modelHash,
      manifest: got.manifest,
      fetchCheckpoint: got.fetchCheckpoint,
      replay: { seed2: `0x${"77".repeat(32)}` },
    });
    expect(verdict.reason, verdict.reason === undefined ? "" : verdict.detail).to.equal(undefined);
    expect(verdict.scoreBps).to.be.greaterThan(0);
    const outside = await got.fetchCheckpoint(run.checkpoints.length).catch((e: unknown) => e);
    expect(outside).to.be.instanceOf(RangeError);
  });

  it("rejects an artifact that is corrupt, truncated, not the one on chain, or over the spec's size", async () => {
    const good = await uploadSubmission(miner, SPEC, run, { taskId: 8n, seed: SEED, miner: MINER });
    const garbage = (await miner.add(toUtf8Bytes("not an artifact at all"))).toString();
    const e1 = await rejects(fetchSubmission(verifier, garbage, FAST), "ARTIFACT_INVALID");
    expect(e1.context.mlCode).to.match(/^ARTIFACT_/);

    const truncated = (await miner.add(good.bytes.subarray(0, good.bytes.length - 4))).toString();
    const e2 = await rejects(fetchSubmission(verifier, truncated, FAST), "ARTIFACT_INVALID");
    expect(e2.context.mlCode).to.equal("ARTIFACT_TRUNCATED");

    await rejects(fetchSubmission(verifier, good.modelCid, { ...FAST, expectedModelHash: keccak256(toUtf8Bytes("another model")) }), "HASH_MISMATCH");

    const { maxArtifactBytes } = submissionBounds(SPEC);
    const huge = (await miner.add(new Uint8Array(maxArtifactBytes + 1))).toString();
    await rejects(fetchSubmission(verifier, huge, { ...FAST, spec: SPEC }), "TOO_LARGE");
    await rejects(fetchSubmission(verifier, "not-a-cid", FAST), "CID_INVALID");
  });

  it("rejects a checkpoint index that is garbage, oversized or does not match the artifact", async () => {
    const withIndex = async (index: Uint8Array) => {
      const manifestCid = (await miner.add(index)).toString();
      const bytes = encodeArtifact(artifactOf(SPEC, run, { taskId: "9", seed: SEED, miner: MINER, manifestCid }));
      return (await miner.add(bytes)).toString();
    };
    await rejects(fetchSubmission(verifier, await withIndex(toUtf8Bytes("{ nope")), FAST), "MANIFEST_INVALID");

    const cids = run.checkpoints.map(() => "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");
    const wrongRoot = { ...run.manifest, root: keccak256(toUtf8Bytes("another root")), cids };
    await rejects(fetchSubmission(verifier, await withIndex(toUtf8Bytes(canonicalJson(wrongRoot))), FAST), "MANIFEST_INVALID");
    const badCid = { ...run.manifest, cids: cids.map((c, i) => (i === 1 ? "../../etc/passwd" : c)) };
    await rejects(fetchSubmission(verifier, await withIndex(toUtf8Bytes(canonicalJson(badCid))), FAST), "CID_INVALID");
    const padded = toUtf8Bytes(canonicalJson({ ...run.manifest, cids }) + " ".repeat(1 << 20));
    await rejects(fetchSubmission(verifier, await withIndex(padded), FAST), "TOO_LARGE");
  });

  it("turns an artifact that overflows the stack while being checked (hyper nested 10,000 levels) into ARTIFACT_INVALID, and one naming another task too", async () => {
    const good = await uploadSubmission(miner, SPEC, run, { taskId: 10n, seed: SEED, miner: MINER });
    const { header, data } = openContainer(good.bytes);
    header.__metadata__!.hyper = `{"batchSize":${nested(DEEP)},"epochs":15,"learningRate":0.01}`;
    const deep = sealContainer(JSON.stringify(header), data);
    const cid = (await miner.add(deep)).toString();
    const e = await rejects(fetchSubmission(verifier, cid, { ...FAST, spec: SPEC, expectedModelHash: modelHash(deep) }), "ARTIFACT_INVALID");
    expect(e.message).to.match(/hyper\.batchSize an array of 1 is not a positive integer/);
    expect(e.message.length).to.be.at.most(1_000);

    const other = await rejects(fetchSubmission(verifier, good.modelCid, { ...FAST, spec: SPEC, taskId: 11n }), "ARTIFACT_INVALID");
    expect(other.message).to.match(/names task 10, this is task 11/);
    expect((await fetchSubmission(verifier, good.modelCid, { ...FAST, spec: SPEC, taskId: 10n })).artifact.taskId).to.equal("10");
  });

  it("bounds the checkpoints an index may list on its own: 10,000 when the caller gives no limit, never over MAX_CHECKPOINTS", async () => {
    const claiming = async (count: number) => {
      const manifest = { ...run.manifest, entries: Array.from({ length: count }, (_, i) => ({ i, step: i * SPEC.checkpointEvery, weightsHash: run.manifest.entries[0]!.weightsHash })) };
      const bytes = encodeArtifact(artifactOf(SPEC, { ...run, manifest }, { taskId: "12", seed: SEED, miner: MINER, manifestCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" }));
      return (await miner.add(bytes)).toString();
    };
    const e1 = await rejects(fetchSubmission(verifier, await claiming(20_000), FAST), "MANIFEST_INVALID");
    expect(e1.message).to.match(/claims 20000 checkpoints, over the limit of 10000/);
    const e2 = await rejects(fetchSubmission(verifier, await claiming(MAX_CHECKPOINTS + 1), { ...FAST, maxCheckpoints: 10 ** 9 }), "MANIFEST_INVALID");
    expect(e2.message).to.match(new RegExp(`over the limit of ${MAX_CHECKPOINTS}`));
  });

  it("rejects a checkpoint file that carries a tensor its order does not name, or a NaN (CHECKPOINT_INVALID)", async () => {
    const up = await uploadSubmission(miner, SPEC, run, { taskId: 13n, seed: SEED, miner: MINER });
    const { header, data } = openContainer(encodeCheckpoint(run.checkpoints[1]!));
    const extra = sealContainer(JSON.stringify({ ...header, zzz: { dtype: "F32", shape: [1], data_offsets: [data.length, data.length + 4] } }), new Uint8Array([...data, 0, 0, 0, 0]));
    const nan = new Uint8Array(data);
    new DataView(nan.buffer).setFloat32(0, Number.NaN, true);
    for (const [doctored, message] of [
      [extra, /tensors not in its order: zzz/],
      [sealContainer(JSON.stringify(header), nan), /non-finite/],
    ] as const) {
      const cp1 = (await miner.add(doctored)).toString();
      const index = { ...run.manifest, cids: up.checkpointCids.map((c, i) => (i === 1 ? cp1 : c)) };
      const manifestCid = (await miner.add(toUtf8Bytes(canonicalJson(index)))).toString();
      const modelCid = (await miner.add(encodeArtifact(artifactOf(SPEC, run, { taskId: "13", seed: SEED, miner: MINER, manifestCid })))).toString();
      const got = await fetchSubmission(verifier, modelCid, { ...FAST, spec: SPEC });
      const e = await rejects(got.fetchCheckpoint(1), "CHECKPOINT_INVALID");
      expect(e.message).to.match(message);
    }
  });

  it("fetches shards by their unlocked keys in ascending order, and rejects a wrong key or a key for another CID", async () => {
    const pub = await preparePublication({ spec: SPEC, dataset: loadIris(), shardCount: 10, testShards: 3, store: miner, providers: miner.addresses() });
    const doc = await fetchTaskDocument(verifier, pub.specCid, FAST);
    expect(doc).to.deep.equal(pub.document);
    const keys = pub.shards.map((s, index) => ({ index: BigInt(index), cidHash: keccak256(toUtf8Bytes(s.cid)), key: s.key }));

    const seen: number[] = [];
    const all = doc.shards.map((_, i) => i);
    expect(await prefetchShards(verifier, doc, all, { ...FAST, onShard: (i) => seen.push(i) })).to.equal(doc.shards.reduce((n, s) => n + s.bytes, 0));
    expect(seen.sort((a, b) => a - b)).to.deep.equal(all);
    for (const s of doc.shards) expect(await verifier.has(s.cid)).to.equal(true);
    const nowhere = { ...doc, shards: doc.shards.map((s, i) => (i === 5 ? { ...s, cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" } : s)) };
    await rejects(prefetchShards(verifier, nowhere, all, { timeoutMs: 500 }), "UNAVAILABLE");

    const forward = await fetchShards(verifier, doc, [4, 1, 7], keys, FAST);
    const one = await fetchShards(verifier, doc, [1], keys, FAST);
    expect(forward.n).to.equal(doc.shards[1]!.examples + doc.shards[4]!.examples + doc.shards[7]!.examples);
    // shard 1 comes first whatever order the indices were given in
    expect([...forward.y.subarray(0, one.n)]).to.deep.equal([...one.y]);
    expect([...forward.x.subarray(0, one.x.length)]).to.deep.equal([...one.x]);

    const swapped = keys.map((k) => (k.index === 2n ? { ...k, key: keys[3]!.key } : k));
    const e = await rejects(fetchShards(verifier, doc, [2], swapped, FAST), "SHARD_INVALID");
    expect(e.context.mlCode).to.equal("DECRYPT_FAILED");
    const otherCid = keys.map((k) => (k.index === 2n ? { ...k, cidHash: keys[3]!.cidHash } : k));
    await rejects(fetchShards(verifier, doc, [2], otherCid, FAST), "SHARD_INVALID");
    await rejects(fetchShards(verifier, doc, [5], keys.filter((k) => k.index !== 5n), FAST), "SHARD_INVALID");
    // A document that declares a shard smaller than it is: the fetch stops at the declared size.
    const shrunk = { ...doc, shards: doc.shards.map((s, i) => (i === 0 ? { ...s, bytes: s.bytes - 1 } : s)) };
    await rejects(fetchShards(verifier, shrunk, [0], keys, FAST), "TOO_LARGE");
  });

  it("rejects a task document whose spec has a layer type nested 10,000 levels deep as DOCUMENT_INVALID (SPEC_INVALID), without overflowing the stack", async () => {
    const spec = JSON.stringify(SPEC).replace('"type":"dense"', `"type":${nested(DEEP)}`);
    const shards = Array.from({ length: 10 }, () => ({ cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", examples: 15, bytes: 400 }));
    const document = `{"format":"podl-task/1","spec":${spec},"shardCount":10,"testShards":3,"shards":${JSON.stringify(shards)},"providers":[]}`;
    const cid = (await miner.add(toUtf8Bytes(document))).toString();
    const e = await rejects(fetchTaskDocument(verifier, cid, FAST), "DOCUMENT_INVALID");
    expect(e.context.mlCode).to.equal("SPEC_INVALID");
    expect(e.message).to.match(/unknown type an array of 1/);
  });

  it("rejects a task document whose spec is over its limits, carrying the ML code", async () => {
    const spec = { ...SPEC, limits: { maxParams: 10, maxFlops: 10 } };
    const document = { format: "podl-task/1", spec, shardCount: 10, testShards: 3, shards: Array.from({ length: 10 }, () => ({ cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", examples: 15, bytes: 400 })), providers: [] };
    const cid = (await miner.add(toUtf8Bytes(JSON.stringify(document)))).toString();
    const e = await rejects(fetchTaskDocument(verifier, cid, FAST), "DOCUMENT_INVALID");
    expect(e.context.mlCode).to.equal("SPEC_LIMIT");
  });
});
