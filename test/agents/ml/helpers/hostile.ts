import { encodeArtifact, modelHash } from "../../../../agents/ml/artifact.js";
import { buildManifest } from "../../../../agents/ml/checkpoints.js";
import type { Checkpoint } from "../../../../agents/ml/checkpoints.js";
import type { NamedTensors } from "../../../../agents/ml/init.js";
import { artifactOf } from "../../../../agents/ml/train.js";
import type { TrainResult } from "../../../../agents/ml/train.js";
import type { VerifyInput, VerifyReason } from "../../../../agents/ml/verify.js";
import { irisDataset, IRIS_SPEC, MINER, SEED } from "./iris-run.js";

/**
 * A corpus of hostile submissions, each derived from one honest Iris run: what a miner can put in
 * the bytes a validator reads (artifact container, metadata, checkpoints, manifest). Each case says
 * the reason verifySubmission must give. test/agents/ml/hostile.test.ts runs them; bench/hostile-artifacts.ts
 * measures the time and memory each costs.
 */

export const TASK_ID = "7";
export const REPLAY_SEED2 = `0x${"77".repeat(32)}`;
/** Nesting depth that overflows the stack of any recursive walk (String, JSON.stringify). */
export const DEEP = 10_000;

export type Run = Pick<TrainResult, "weights" | "manifest" | "checkpoints" | "hyper">;

export type HostileCase = {
  name: string;
  reason: VerifyReason;
  detail: RegExp;
  make: (run: Run) => VerifyInput;
};

/** What a validator gets for an honest submission of `run`. */
export function honestInput(run: Run, overrides: Partial<VerifyInput> = {}): VerifyInput {
  const artifact = encodeArtifact(artifactOf(IRIS_SPEC, run, { taskId: TASK_ID, seed: SEED, miner: MINER }));
  return {
    taskId: TASK_ID,
    spec: IRIS_SPEC,
    seed: SEED,
    miner: MINER,
    test: irisDataset(),
    train: irisDataset(),
    artifact,
    expectedModelHash: modelHash(artifact),
    manifest: run.manifest,
    fetchCheckpoint: async (i: number) => run.checkpoints[i]!,
    replay: { seed2: REPLAY_SEED2 },
    ...overrides,
  };
}

/** `[[[…]]]`, `depth` levels deep. */
export function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** A safetensors file's header (parsed) and data section. */
export function openContainer(bytes: Uint8Array): { header: Record<string, Record<string, unknown>>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

/** A safetensors file from header text and data, the length field `declared` when given. */
export function sealContainer(headerJson: string, data: Uint8Array, declared?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerJson);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(padded), true);
  out.set(json, 8);
  out.set(data, 8 + padded);
  return out;
}

/** The honest artifact with its header changed by `edit` (JSON text in, JSON text out), hashed as the chain would have it. */
function editHeader(run: Run, edit: (header: Record<string, Record<string, unknown>>) => string, data?: (d: Uint8Array) => Uint8Array): VerifyInput {
  const honest = honestInput(run);
  const { header, data: section } = openContainer(honest.artifact);
  return withArtifact(honest, sealContainer(edit(header), data === undefined ? section : data(section)));
}

/** The honest artifact with `key` of its metadata replaced by `value` (a string: the metadata's own JSON text). */
function editMetadata(run: Run, key: string, value: string): VerifyInput {
  return editHeader(run, (h) => {
    h.__metadata__![key] = value;
    return JSON.stringify(h);
  });
}

function withArtifact(input: VerifyInput, artifact: Uint8Array): VerifyInput {
  return { ...input, artifact, expectedModelHash: modelHash(artifact) };
}

function mapWeights(w: NamedTensors, f: (name: string, data: Float32Array) => Float32Array): NamedTensors {
  return new Map([...w].map(([n, t]) => [n, { shape: t.shape, data: f(n, t.data) }]));
}

/**
 * A self-consistent forged run: checkpoints changed by `forge`, manifest rebuilt from them, the
 * artifact holding the last checkpoint's weights, everything hashed and rooted as a miner would.
 */
export function forgedInput(run: Run, forge: (cps: Checkpoint[]) => Checkpoint[], overrides: Partial<VerifyInput> = {}): VerifyInput {
  const checkpoints = forge([...run.checkpoints]);
  const weights = new Map([...checkpoints.at(-1)!.weights, ["sml.kernel", run.weights.get("sml.kernel")!]]);
  const forged: Run = { weights, checkpoints, manifest: buildManifest(checkpoints, IRIS_SPEC.checkpointEvery), hyper: run.hyper };
  return honestInput(forged, { fetchCheckpoint: async (i: number) => checkpoints[i]!, ...overrides });
}

/** Checkpoint `k` with `value` at index 0 of its layers.1.bias. */
export function poison(cps: Checkpoint[], k: number, value: number): Checkpoint[] {
  const cp = cps[k]!;
  cps[k] = { ...cp, weights: mapWeights(cp.weights, (n, d) => (n === "layers.1.bias" ? Float32Array.from(d, (v, j) => (j === 0 ? value : v)) : d)) };
  return cps;
}

/** The last checkpoint's weights doubled: a run that claims more than its last steps made. */
export function doubleLastCheckpoint(cps: Checkpoint[]): Checkpoint[] {
  const last = cps.at(-1)!;
  cps[cps.length - 1] = { ...last, weights: mapWeights(last.weights, (_, d) => d.map((v) => 2 * v)) };
  return cps;
}

/** One F32 tensor's entry in the honest header. */
const BIAS = "layers.1.bias";

export const HOSTILE_CASES: HostileCase[] = [
  // Nesting: JSON.parse takes any depth; describing or walking the value must not recurse.
  {
    name: `hyper.batchSize nested ${DEEP} levels`,
    reason: "artifact",
    detail: /hyper\.batchSize .*is not a positive integer/,
    make: (run) => editMetadata(run, "hyper", `{"batchSize":${nested(DEEP)},"epochs":15,"learningRate":0.01}`),
  },
  {
    name: `hyper.learningRate nested ${DEEP} levels`,
    reason: "artifact",
    detail: /hyper\.learningRate .*is not a positive finite number/,
    make: (run) => editMetadata(run, "hyper", `{"batchSize":16,"epochs":15,"learningRate":${nested(DEEP)}}`),
  },
  {
    name: `watermark nested ${DEEP} levels`,
    reason: "artifact",
    detail: /watermark must be/,
    make: (run) => editMetadata(run, "watermark", `{"bits":${nested(DEEP)},"strength":0.01}`),
  },
  {
    name: `checkpoints.count nested ${DEEP} levels`,
    reason: "artifact",
    detail: /checkpoints must be/,
    make: (run) => editMetadata(run, "checkpoints", `{"count":${nested(DEEP)},"every":5,"root":"0x${"00".repeat(32)}"}`),
  },
  {
    name: `spec layer type nested ${DEEP} levels`,
    reason: "artifact",
    detail: /embedded spec/,
    make: (run) => {
      const spec = JSON.parse(JSON.stringify(IRIS_SPEC)) as { layers: { type: unknown }[] };
      spec.layers[0]!.type = "__NEST__";
      return editMetadata(run, "spec", JSON.stringify(spec).replace('"__NEST__"', nested(DEEP)));
    },
  },
  {
    name: `tensor shape nested ${DEEP} levels`,
    reason: "artifact",
    detail: /bad shape/,
    make: (run) =>
      editHeader(run, (h) => {
        h[BIAS]!.shape = "__NEST__";
        return JSON.stringify(h).replace('"__NEST__"', nested(DEEP));
      }),
  },
  {
    name: `header nested ${DEEP} levels under a tensor name`,
    reason: "artifact",
    detail: /entry is not an object|dtype/,
    make: (run) => editHeader(run, (h) => JSON.stringify(h).replace(/}$/, `,"deep":${nested(DEEP)}}`)),
  },
  // Non-finite values.
  {
    name: "NaN weight in the artifact",
    reason: "artifact",
    detail: /ARTIFACT_NAN/,
    make: (run) => editHeader(run, (h) => JSON.stringify(h), (d) => {
      const copy = new Uint8Array(d);
      new DataView(copy.buffer).setFloat32(0, Number.NaN, true);
      return copy;
    }),
  },
  {
    name: "Infinity weight in the artifact",
    reason: "artifact",
    detail: /ARTIFACT_NAN/,
    make: (run) => editHeader(run, (h) => JSON.stringify(h), (d) => {
      const copy = new Uint8Array(d);
      new DataView(copy.buffer).setFloat32(d.length - 4, Number.POSITIVE_INFINITY, true);
      return copy;
    }),
  },
  {
    name: "NaN in a middle checkpoint",
    reason: "checkpoints",
    detail: /checkpoint 2 holds a non-finite value/,
    make: (run) => forgedInput(run, (cps) => poison(cps, 2, Number.NaN)),
  },
  {
    name: "-Infinity in a middle checkpoint",
    reason: "checkpoints",
    detail: /checkpoint 3 holds a non-finite value/,
    make: (run) => forgedInput(run, (cps) => poison(cps, 3, Number.NEGATIVE_INFINITY)),
  },
  {
    name: "last checkpoint doubled, with one NaN in an earlier checkpoint",
    reason: "checkpoints",
    detail: /non-finite/,
    make: (run) => forgedInput(run, (cps) => poison(doubleLastCheckpoint(cps), 7, Number.NaN)),
  },
  {
    name: "last checkpoint doubled",
    reason: "replay",
    detail: /segment \d+ replays to a normalised distance/,
    make: (run) => forgedInput(run, doubleLastCheckpoint),
  },
  // Container: shapes, offsets, names, dtypes, truncation, sizes.
  {
    name: "huge declared shape",
    reason: "artifact",
    detail: /offsets do not match shape/,
    make: (run) => editHeader(run, (h) => JSON.stringify({ ...h, [BIAS]: { ...h[BIAS], shape: [2 ** 26, 2 ** 26] } })),
  },
  {
    name: "overlapping offsets",
    reason: "artifact",
    detail: /starts at/,
    make: (run) =>
      editHeader(run, (h) => {
        const [b, e] = h[BIAS]!.data_offsets as number[];
        return JSON.stringify({ ...h, [BIAS]: { ...h[BIAS], data_offsets: [b! + 4, e! + 4] } });
      }),
  },
  {
    name: "offsets past the end",
    reason: "artifact",
    detail: /ARTIFACT_TRUNCATED|ARTIFACT_INVALID/,
    make: (run) =>
      editHeader(run, (h) => {
        const last = Object.entries(h).filter(([n]) => n !== "__metadata__").sort((a, b) => (b[1].data_offsets as number[])[0]! - (a[1].data_offsets as number[])[0]!)[0]!;
        const [b] = last[1].data_offsets as number[];
        return JSON.stringify({ ...h, [last[0]]: { ...last[1], shape: [1 << 20], data_offsets: [b!, b! + (4 << 20)] } });
      }),
  },
  {
    name: "duplicate tensor name",
    reason: "artifact",
    detail: /starts at|trailing|not in canonical form/,
    make: (run) => editHeader(run, (h) => JSON.stringify(h).replace(/}$/, `,${JSON.stringify(BIAS)}:${JSON.stringify({ ...h[BIAS], data_offsets: [0, (h[BIAS]!.data_offsets as number[])[1]! - (h[BIAS]!.data_offsets as number[])[0]!] })}}`)),
  },
  {
    name: "dtype swapped to I32",
    reason: "artifact",
    detail: /ARTIFACT_SHAPE.*I32/,
    make: (run) => editHeader(run, (h) => JSON.stringify({ ...h, [BIAS]: { ...h[BIAS], dtype: "I32" } })),
  },
  {
    name: "unknown dtype",
    reason: "artifact",
    detail: /dtype/,
    make: (run) => editHeader(run, (h) => JSON.stringify({ ...h, [BIAS]: { ...h[BIAS], dtype: "F64" } })),
  },
  {
    name: "truncated by one byte",
    reason: "artifact",
    detail: /ARTIFACT_TRUNCATED/,
    make: (run) => {
      const honest = honestInput(run);
      return withArtifact(honest, honest.artifact.subarray(0, honest.artifact.length - 1));
    },
  },
  {
    name: "truncated inside the header",
    reason: "artifact",
    detail: /ARTIFACT_TRUNCATED/,
    make: (run) => {
      const honest = honestInput(run);
      return withArtifact(honest, honest.artifact.subarray(0, 100));
    },
  },
  {
    name: "header length 2^63",
    reason: "artifact",
    detail: /header length/,
    make: (run) => {
      const honest = honestInput(run);
      const bytes = new Uint8Array(honest.artifact);
      new DataView(bytes.buffer).setBigUint64(0, 1n << 63n, true);
      return withArtifact(honest, bytes);
    },
  },
  {
    name: "file over the spec's bound, with the honest hash on chain (refused before hashing)",
    reason: "artifact",
    detail: /ARTIFACT_TOO_LARGE/,
    make: (run) => {
      const honest = honestInput(run);
      const { header, data } = openContainer(honest.artifact);
      const big = sealContainer(JSON.stringify(header), new Uint8Array([...data, ...new Uint8Array(1 << 20)]));
      return { ...honest, artifact: big };
    },
  },
  {
    name: "1,000 zero-size tensor entries",
    reason: "artifact",
    detail: /holds no values/,
    make: (run) =>
      editHeader(run, (h) => {
        const end = Math.max(...Object.entries(h).filter(([n]) => n !== "__metadata__").map(([, e]) => (e.data_offsets as number[])[1]!));
        for (let k = 0; k < 1000; k++) h[`z${k}`] = { dtype: "F32", shape: [0], data_offsets: [end, end] };
        return JSON.stringify(h);
      }),
  },
  // What the artifact claims.
  {
    name: "taskId of another task",
    reason: "spec",
    detail: /artifact names task 8, this is task 7/,
    make: (run) => {
      const artifact = encodeArtifact(artifactOf(IRIS_SPEC, run, { taskId: "8", seed: SEED, miner: MINER }));
      return withArtifact(honestInput(run), artifact);
    },
  },
  {
    name: "20,000 claimed checkpoints (refused by the last step before the tree is built)",
    reason: "hyper",
    detail: /the checkpoints end at step/,
    make: (run) => {
      const every = IRIS_SPEC.checkpointEvery;
      const count = 20_000;
      const hash = run.manifest.entries[0]!.weightsHash;
      const entries = Array.from({ length: count }, (_, i) => ({ i, step: i * every, weightsHash: hash }));
      const manifest = { ...run.manifest, entries, root: `0x${"ab".repeat(32)}` };
      const artifact = encodeArtifact(artifactOf(IRIS_SPEC, { ...run, manifest }, { taskId: TASK_ID, seed: SEED, miner: MINER }));
      return withArtifact(honestInput(run, { manifest }), artifact);
    },
  },
];
