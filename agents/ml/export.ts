import { readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { ArtifactV1 } from "./artifact.js";
import { PreprocessingSchema, type DatasetDescription, type Preprocessing } from "./datasets/description.js";
import { MlError } from "./errors.js";
import { buildModel } from "./model.js";
import { smlMatches } from "./sml.js";

/**
 * The publisher's product (DESIGN §9): a verified artifact v1 as a TensorFlow.js LayersModel —
 * `model.json` (topology, weights manifest, provenance in `userDefinedMetadata`) and
 * `weights.bin` — beside `labels.json` (class names in class-index order) and
 * `preprocessing.json` (from raw rows or images to the model's input). The Secure Mapping Layer
 * is the model's first layer, non-trainable, with its weights in `weights.bin`: running the model
 * needs no seed.
 */

export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";
export const LABELS_JSON = "labels.json";
export const PREPROCESSING_JSON = "preprocessing.json";

export interface ModelExport {
  /** The `model.json` object (tfjs' layers-model format). */
  modelJson: tf.io.ModelJSON;
  weights: Uint8Array;
  /** One name per output class; a class the document does not name is its index as text. */
  labels: string[];
  /** What the task document recorded; undefined for documents written before it was recorded. */
  preprocessing: Preprocessing | undefined;
}

/** Provenance written into `model.json`'s `userDefinedMetadata.podl`. */
export interface ExportProvenance {
  taskId: string;
  miner: string;
  seed: string;
  modelHash: string;
  specName: string;
  hyper: ArtifactV1["hyper"];
}

/**
 * Builds the artifact's model and serialises it through tf.io.withSaveHandler. Throws
 * ARTIFACT_INVALID when the artifact's SML is not the one its seed generates (the exported model
 * would carry a layer no validator checked). Uses whichever backend is active.
 */
export async function exportArtifact(artifact: ArtifactV1, modelHash: string, description?: DatasetDescription): Promise<ModelExport> {
  const { spec } = artifact;
  const sml = artifact.tensors.get("sml.kernel")!;
  if (!smlMatches(artifact.seed, spec.sml, spec.input.shape, sml.data)) {
    throw new MlError("ARTIFACT_INVALID", "artifact: sml.kernel is not the Secure Mapping Layer of the artifact's seed");
  }
  if (description !== undefined && description.classNames.length > spec.classes) {
    throw new MlError("SPEC_INVALID", `task document names ${description.classNames.length} classes, the spec has ${spec.classes}`);
  }
  const provenance: ExportProvenance = { taskId: artifact.taskId, miner: artifact.miner, seed: artifact.seed, modelHash, specName: spec.name, hyper: artifact.hyper };
  const model = buildModel(spec, { smlWeights: sml, initialWeights: artifact.tensors });
  let saved: tf.io.ModelArtifacts | undefined;
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
      }),
    );
  } finally {
    model.dispose();
  }
  const { modelTopology, weightSpecs, weightData } = saved!;
  const weights = new Uint8Array(concat(weightData!));
  const modelJson: tf.io.ModelJSON = {
    modelTopology: modelTopology as object,
    format: "layers-model",
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: weightSpecs! }],
    userDefinedMetadata: { podl: provenance as unknown as object },
  };
  const labels = Array.from({ length: spec.classes }, (_, i) => description?.classNames[i] ?? String(i));
  return { modelJson, weights, labels, preprocessing: description?.preprocessing };
}

/** Writes the export's four files into `dir` (created if missing); returns their paths. */
export async function writeModelExport(dir: string, e: ModelExport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string | Uint8Array][] = [
    [MODEL_JSON, JSON.stringify(e.modelJson)],
    [WEIGHTS_BIN, e.weights],
    [LABELS_JSON, `${JSON.stringify(e.labels, null, 2)}\n`],
    [PREPROCESSING_JSON, `${JSON.stringify(e.preprocessing ?? null, null, 2)}\n`],
  ];
  for (const [name, content] of files) await writeFile(join(dir, name), content);
  return files.map(([name]) => join(dir, name));
}

export interface LoadedExport {
  model: tf.LayersModel;
  labels: string[];
  preprocessing: Preprocessing | undefined;
  metadata: Record<string, unknown>;
}

/**
 * Loads an exported folder: model.json and its weight files through tf.io.fromMemory and
 * tf.loadLayersModel in strict mode (every weight present, no extra), with labels.json and
 * preprocessing.json. MODEL_INVALID naming the file when one is missing or malformed.
 */
export async function loadModelExport(dir: string): Promise<LoadedExport> {
  const modelJson = (await readJson(dir, MODEL_JSON)) as tf.io.ModelJSON;
  if (typeof modelJson !== "object" || modelJson === null || !Array.isArray(modelJson.weightsManifest) || modelJson.modelTopology === undefined) {
    throw new MlError("MODEL_INVALID", `${join(dir, MODEL_JSON)}: not a TensorFlow.js layers model (no modelTopology or weightsManifest)`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const parts: Uint8Array[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const path of group.paths) {
        const file = join(dir, path);
        try {
          parts.push(await readFile(file));
        } catch (cause) {
          throw new MlError("MODEL_INVALID", `${file}: cannot read (${(cause as Error).message})`, { cause });
        }
      }
    }
    return [specs, concat(parts.map((p) => p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength) as ArrayBuffer))];
  });
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: true });
  } catch (cause) {
    throw new MlError("MODEL_INVALID", `${join(dir, MODEL_JSON)}: TensorFlow.js cannot load it (${(cause as Error).message})`, { cause });
  }
  const labels = await readJson(dir, LABELS_JSON);
  const classes = (model.outputs[0]!.shape.at(-1) ?? 0) as number;
  if (!Array.isArray(labels) || labels.length !== classes || labels.some((l) => typeof l !== "string")) {
    model.dispose();
    throw new MlError("MODEL_INVALID", `${join(dir, LABELS_JSON)}: must be a JSON array of ${classes} strings, one per output class`);
  }
  const recorded = await readJson(dir, PREPROCESSING_JSON);
  const parsed = recorded === null ? undefined : PreprocessingSchema.safeParse(recorded);
  if (parsed !== undefined && !parsed.success) {
    model.dispose();
    const issue = parsed.error.issues[0]!;
    throw new MlError("MODEL_INVALID", `${join(dir, PREPROCESSING_JSON)}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const preprocessing = parsed?.data;
  return { model, labels, preprocessing, metadata: (modelJson.userDefinedMetadata ?? {}) as Record<string, unknown> };
}

async function readJson(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new MlError("MODEL_INVALID", `${path}: cannot read (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MlError("MODEL_INVALID", `${path}: not JSON (${(cause as Error).message})`, { cause });
  }
}

function concat(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  const out = new Uint8Array(data.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return out.buffer;
}
