import { z } from "zod";
import { DatasetDescriptionSchema, type DatasetDescription } from "../ml/datasets/description.js";
import { MlError } from "../ml/errors.js";
import { parseSpec, type TaskSpec } from "../ml/spec.js";

export const TASK_DOCUMENT_FORMAT = "podl-task/1";

/**
 * The JSON behind a task's `specCid` (canonical JSON on IPFS): the model spec, and what miners need
 * before the keys arrive: every ciphertext's CID and size (to prefetch and bound downloads) and
 * the publisher's IPFS multiaddrs (to dial it directly); and, since it was added (optional, so older
 * documents still parse), what the examples mean: class names and preprocessing
 * (docs/task-document.md).
 */
export interface TaskDocument {
  format: typeof TASK_DOCUMENT_FORMAT;
  spec: TaskSpec;
  shardCount: number;
  testShards: number;
  /** In shard index order; `bytes` is the ciphertext's size, `examples` the rows it holds. */
  shards: { cid: string; examples: number; bytes: number }[];
  providers: string[];
  /** Class names in class-index order and the preprocessing from raw data to the model's input. */
  dataset?: DatasetDescription;
}

const count = z.number().int().positive();
const DocumentSchema = z
  .object({
    format: z.literal(TASK_DOCUMENT_FORMAT),
    spec: z.unknown(),
    shardCount: count.max(256),
    testShards: count,
    shards: z.array(z.object({ cid: z.string().min(1).max(128), examples: count, bytes: count }).strict()),
    providers: z.array(z.string().min(1)).max(32),
    dataset: DatasetDescriptionSchema.optional(),
  })
  .strict()
  .refine((d) => d.shards.length === d.shardCount, { message: "shards must list shardCount entries" })
  .refine((d) => d.testShards < d.shardCount, { message: "testShards must be below shardCount" })
  .refine((d) => d.dataset === undefined || !isSpecObject(d.spec) || d.dataset.classNames.length <= d.spec.classes, {
    message: "dataset.classNames must not name more classes than the spec has",
    path: ["dataset", "classNames"],
  });

function isSpecObject(spec: unknown): spec is { classes: number } {
  return typeof spec === "object" && spec !== null && typeof (spec as { classes?: unknown }).classes === "number";
}

/** Parses a task document (bytes or text from IPFS); SPEC_INVALID or SPEC_LIMIT saying what is wrong. */
export function parseTaskDocument(input: Uint8Array | string): TaskDocument {
  const text = typeof input === "string" ? input : new TextDecoder().decode(input);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new MlError("SPEC_INVALID", `task document: malformed JSON (${(cause as Error).message})`, { cause });
  }
  const result = DocumentSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new MlError("SPEC_INVALID", `task document.${issue.path.join(".") || "(root)"}: ${issue.message}`, { cause: result.error });
  }
  const { dataset, ...rest } = result.data;
  return { ...rest, format: TASK_DOCUMENT_FORMAT, spec: parseSpec(result.data.spec), ...(dataset === undefined ? {} : { dataset }) };
}
