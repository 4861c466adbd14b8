import { randomInt } from "node:crypto";
import { hexlify } from "ethers";
import type { ContentStore } from "../storage/content-store.js";
import { buildDatasetCommitment, type ShardSecret } from "../protocol/dataset-tree.js";
import { encrypt, generateKey } from "../ml/crypto.js";
import { loadIris, loadMnist } from "../ml/datasets/bundled.js";
import { loadCsv } from "../ml/datasets/csv.js";
import { checkDataset, type Dataset } from "../ml/datasets/dataset.js";
import { loadImageFolder } from "../ml/datasets/images.js";
import { MlError } from "../ml/errors.js";
import { encodeShard } from "../ml/shard.js";
import { canonicalJson, parseSpec, presets, type TaskSpec } from "../ml/spec.js";
import { declaredWorkload } from "../protocol/workload.js";
import { TASK_DOCUMENT_FORMAT, type TaskDocument } from "../protocol/task-document.js";

/** Where a dataset comes from: `iris`, `mnist`, a `.csv` file or an image folder (`root/<class>/*.png`). */
export type DatasetSource = { kind: "iris" } | { kind: "mnist"; examples: number } | { kind: "csv"; path: string; label?: string | undefined; standardize?: boolean } | { kind: "images"; path: string };

export function parseDatasetSource(value: string, mnistExamples = 2_000, csv: { label?: string | undefined; standardize?: boolean } = {}): DatasetSource {
  if (value === "iris") return { kind: "iris" };
  if (value === "mnist") return { kind: "mnist", examples: mnistExamples };
  if (value.toLowerCase().endsWith(".csv")) return { kind: "csv", path: value, ...csv };
  return { kind: "images", path: value };
}

/** A preset name (`irisMlp`, `mnistMlp`, `mnistCnn`), a spec object or spec JSON text; SPEC_INVALID/SPEC_LIMIT otherwise. */
export function resolveSpec(input: string | unknown): TaskSpec {
  if (typeof input === "string" && Object.hasOwn(presets, input)) return presets[input as keyof typeof presets];
  if (typeof input === "string" && !input.trimStart().startsWith("{")) {
    throw new MlError("SPEC_INVALID", `spec: unknown preset ${JSON.stringify(input)} (presets: ${Object.keys(presets).join(", ")})`);
  }
  return parseSpec(input);
}

/** Loads a dataset in the shape the spec asks for (images at the spec's height, width and channels). */
export async function loadDataset(source: DatasetSource, spec: TaskSpec): Promise<Dataset> {
  switch (source.kind) {
    case "iris":
      return loadIris();
    case "mnist":
      // Only the training half is used; the test half of 10 images is the loader's minimum.
      return loadMnist({ train: source.examples, test: 10, image: spec.input.shape.length === 3 }).train;
    case "csv":
      return await loadCsv(source.path, { inputShape: spec.input.shape, ...(source.label === undefined ? {} : { label: source.label }), standardize: source.standardize === true });
    case "images": {
      const [height, width, channels] = spec.input.shape;
      if (height === undefined || width === undefined || (channels !== 1 && channels !== 3)) {
        throw new MlError("DATASET_INVALID", `${source.path}: an image folder needs a spec input of [height, width, 1 or 3], not [${spec.input.shape}]`, {
          context: { source: source.path },
        });
      }
      return await loadImageFolder(source.path, { height, width, channels });
    }
  }
}

/**
 * Checks that `ds` is what `spec` trains on (input shape, labels within its classes) and that it
 * fills `shardCount` shards; DATASET_INVALID saying what does not match.
 */
export function checkDatasetForSpec(ds: Dataset, spec: TaskSpec, shardCount: number): void {
  const bad = (message: string): never => {
    throw new MlError("DATASET_INVALID", `dataset does not match spec "${spec.name}": ${message}`, { context: { spec: spec.name } });
  };
  checkDataset(ds, spec.name);
  if (ds.inputShape.join(",") !== spec.input.shape.join(",")) bad(`examples have shape [${ds.inputShape}], the spec's input is [${spec.input.shape}]`);
  if (ds.classes > spec.classes) bad(`${ds.classes} classes, the spec has ${spec.classes}`);
  if (ds.n < shardCount) bad(`${ds.n} examples cannot fill ${shardCount} shards`);
}

/**
 * The declaration `preparePublication` will make, from the plaintext, for checks before anything
 * is encrypted or uploaded (the ciphertexts' size is the plaintext's plus a small framing).
 */
export function draftOf(spec: TaskSpec, dataset: Dataset, shardCount: number, testShards: number): { shardCount: number; testShards: number; workload: Publication["workload"] } {
  const per = dataset.inputShape.reduce((a, b) => a * b, 1);
  const trainExamples = Math.ceil((dataset.n * (shardCount - testShards)) / shardCount);
  return { shardCount, testShards, workload: declaredWorkload(spec, trainExamples, dataset.n * (per + 1) * 4) };
}

/** Everything the publisher keeps about a prepared task; `shards[i].key` are the secrets. */
export interface Publication {
  spec: TaskSpec;
  specCid: string;
  document: TaskDocument;
  shards: ShardSecret[];
  datasetRoot: string;
  shardCount: number;
  testShards: number;
  workload: { modelBytes: bigint; dataBytes: bigint; flops: bigint };
  /** Wall-clock seconds spent shuffling, encoding and encrypting (`prepare`) and adding to the store (`upload`). */
  seconds: { prepare: number; upload: number };
}

export interface PrepareOptions {
  spec: TaskSpec;
  dataset: Dataset;
  shardCount: number;
  testShards: number;
  store: ContentStore;
  /** The publisher's IPFS multiaddrs, put in the task document so miners can dial it. */
  providers: string[];
  /** Called after each shard is encrypted and added (progress). */
  onShard?: (done: number, total: number) => void;
}

/**
 * Validates, shuffles (image folders come sorted by class; every shard should draw from the whole
 * distribution), splits into `shardCount` shards of near-equal size, encrypts each under its own
 * random key and adds the ciphertexts and then the task document to the content store. Nothing
 * is added when the dataset does not match the spec.
 */
export async function preparePublication(options: PrepareOptions): Promise<Publication> {
  const { spec, dataset, shardCount, testShards, store } = options;
  checkDatasetForSpec(dataset, spec, shardCount);
  const order = shuffledIndices(dataset.n);
  const per = dataset.inputShape.reduce((a, b) => a * b, 1);
  const shards: ShardSecret[] = [];
  const entries: TaskDocument["shards"] = [];
  let ciphertextBytes = 0;
  let uploadMs = 0;
  const started = performance.now();
  for (let s = 0; s < shardCount; s++) {
    const rows = order.slice(Math.floor((s * dataset.n) / shardCount), Math.floor(((s + 1) * dataset.n) / shardCount));
    const x = new Float32Array(rows.length * per);
    const y = new Int32Array(rows.length);
    rows.forEach((row, i) => {
      x.set(dataset.x.subarray(row * per, (row + 1) * per), i * per);
      y[i] = dataset.y[row]!;
    });
    const key = generateKey();
    const sealed = encrypt(key, encodeShard({ x, y, n: rows.length, inputShape: dataset.inputShape, classes: spec.classes }));
    const adding = performance.now();
    const cid = (await store.add(sealed)).toString();
    uploadMs += performance.now() - adding;
    shards.push({ cid, key: hexlify(key) });
    entries.push({ cid, examples: rows.length, bytes: sealed.byteLength });
    ciphertextBytes += sealed.byteLength;
    options.onShard?.(s + 1, shardCount);
  }
  const trainExamples = entries.reduce((sum, e) => sum + e.examples, 0) * (shardCount - testShards) / shardCount;
  const document: TaskDocument = { format: TASK_DOCUMENT_FORMAT, spec, shardCount, testShards, shards: entries, providers: options.providers };
  if (dataset.description !== undefined) document.dataset = dataset.description;
  const adding = performance.now();
  const specCid = (await store.add(new TextEncoder().encode(canonicalJson(document)))).toString();
  uploadMs += performance.now() - adding;
  return {
    spec,
    specCid,
    document,
    shards,
    datasetRoot: buildDatasetCommitment(shards).root,
    shardCount,
    testShards,
    workload: declaredWorkload(spec, Math.ceil(trainExamples), ciphertextBytes),
    seconds: { prepare: (performance.now() - started - uploadMs) / 1000, upload: uploadMs / 1000 },
  };
}

function shuffledIndices(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
