import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { AgentError } from "../../config/errors.js";
import { loadCsv } from "../../ml/datasets/csv.js";
import { imageInfo, isImageFile, loadImageFolder } from "../../ml/datasets/images.js";
import { draftSpec, suggestedTrainWindow } from "../../ml/spec-draft.js";
import { canonicalJson, countModel, parseSpec, type TaskSpec } from "../../ml/spec.js";
import type { Command } from "../command.js";

/** `podl publish`'s defaults, for the training rows behind the suggested window. */
const DEFAULT_SHARDS = { shardCount: 10, testShards: 3 };

/** `podl spec init`: a valid starter spec drawn from the dataset, and the `podl publish` line that goes with it. */
export const specInitCommand: Command = {
  name: "spec init",
  summary: "write a starter task spec for a CSV file or an image folder",
  description: [
    "Reads --dataset (a .csv file of numeric features and one label column, or a folder with one",
    "sub-folder of .png/.jpg images per class) and writes a task spec that trains on it: the input shape,",
    "the class count, an MLP (rows) or a small CNN (images) with a Secure Mapping Layer, the presets'",
    "hyperparameters, limits with 50 % headroom. It prints the `podl publish` command for it, with a",
    "training window sized from the model's FLOPs. Edit the spec freely, then `podl spec check` it.",
    "CSV: the label is the last column unless --label-column names it (the header's name); labels are",
    "integer class indices or names (sorted into class order).",
  ].join("\n"),
  options: {
    dataset: { type: "string", description: "a .csv file or an image folder (root/<class>/*.png|jpg) (required)", value: "file|folder" },
    "label-column": { type: "string", description: "CSV: the header name of the column holding the class (default: the last column)", value: "name" },
    out: { type: "string", description: "where to write the spec (default ./spec.json); an existing file is not overwritten", value: "file.json" },
    json: { type: "boolean", description: "print one JSON object instead of text" },
  },
  async run({ values, positionals, io }) {
    if (positionals.length > 0) throw new AgentError("USAGE", `unexpected argument ${JSON.stringify(positionals[0])} (give the data with --dataset)`);
    const dataset = values.dataset;
    if (typeof dataset !== "string" || dataset === "") throw new AgentError("USAGE", "--dataset: required, a .csv file or an image folder");
    const labelColumn = typeof values["label-column"] === "string" ? values["label-column"] : undefined;
    const out = typeof values.out === "string" ? values.out : "spec.json";
    if (!out.endsWith(".json")) throw new AgentError("USAGE", `--out: must be a .json file, got ${JSON.stringify(out)}`);
    if (await exists(out)) throw new AgentError("USAGE", `--out: ${out} exists; remove it or choose another file`);

    const data = await readShape(dataset, labelColumn);
    const spec = draftSpec(data);
    await writeFile(out, `${JSON.stringify(spec, null, 2)}\n`);
    const trainRows = Math.ceil((data.examples * (DEFAULT_SHARDS.shardCount - DEFAULT_SHARDS.testShards)) / DEFAULT_SHARDS.shardCount);
    const trainWindow = suggestedTrainWindow(spec, trainRows);
    const publish = ["podl", "publish", "--dataset", dataset, ...(data.csv ? [...(labelColumn ? ["--label-column", labelColumn] : []), "--feature-scaling", "standard"] : []), "--spec", out, "--reward", "<ETH>", "--train-window", String(trainWindow)];
    const { params, flops } = countModel(spec);
    if (values.json === true) {
      io.out(JSON.stringify({ spec: out, inputShape: spec.input.shape, classes: spec.classes, classNames: data.classNames, examples: data.examples, params, flops, trainWindow, publish }));
      return 0;
    }
    io.out(`wrote ${out}: ${data.examples} examples of shape [${spec.input.shape}], ${spec.classes} classes (${data.classNames.join(", ")})`);
    io.out(`model: ${spec.sml.kind} SML + ${spec.layers.map((l) => l.type).join(", ")}; ${params} parameters, ${flops} FLOPs per example`);
    io.out(`publish it with (deployment and key flags as in docs/publishing.md):`);
    io.out(`  ${publish.join(" ")}`);
    return 0;
  },
};

/** `podl spec check FILE`: parses a spec the way miners will, naming the field that is wrong. */
export const specCheckCommand: Command = {
  name: "spec check",
  summary: "validate a task spec file",
  description: [
    "Parses a task spec JSON file as miners and validators will (docs/task-spec.schema.json is its JSON",
    "Schema): every field, the layer chain's shapes, the last layer (dense, the classes, softmax) and the",
    "limits. Prints the model's size, or the offending field with the values allowed there (exit 1).",
  ].join("\n"),
  args: "<file.json>",
  options: { json: { type: "boolean", description: "print one JSON object instead of text" } },
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw new AgentError("USAGE", `expected one spec file, got ${positionals.length} arguments`);
    const file = positionals[0]!;
    const text = await readFile(file, "utf8").catch((cause: Error) => {
      throw new AgentError("USAGE", `${file}: cannot read (${cause.message})`, { cause });
    });
    let spec: TaskSpec;
    try {
      spec = parseSpec(text);
    } catch (e) {
      if (e instanceof Error) e.message = `${file}: ${e.message}`;
      throw e;
    }
    const { params, trainableParams, flops } = countModel(spec);
    if (values.json === true) {
      io.out(JSON.stringify({ file, valid: true, name: spec.name, inputShape: spec.input.shape, classes: spec.classes, params, trainableParams, flops, limits: spec.limits, canonicalBytes: canonicalJson(spec).length }));
    } else {
      io.out(`${file}: valid spec "${spec.name}": input [${spec.input.shape}], ${spec.classes} classes, ${params} parameters (${trainableParams} trainable, limit ${spec.limits.maxParams}), ${flops} FLOPs per example (limit ${spec.limits.maxFlops})`);
    }
    return 0;
  },
};

/** The dataset's shape and classes, read the way `podl publish` will read it. */
async function readShape(path: string, labelColumn: string | undefined) {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new AgentError("USAGE", `--dataset: ${path} does not exist`);
  const name = basename(path, extname(path)).slice(0, 200) || "task";
  if (info.isFile()) {
    if (!path.toLowerCase().endsWith(".csv")) throw new AgentError("USAGE", `--dataset: ${path} is neither a .csv file nor a folder of class folders`);
    const ds = await loadCsv(path, labelColumn === undefined ? {} : { label: labelColumn });
    return { name, inputShape: ds.inputShape, classes: ds.classes, examples: ds.n, classNames: ds.classNames, csv: true };
  }
  if (labelColumn !== undefined) throw new AgentError("USAGE", "--label-column: only for a .csv dataset (an image folder's classes are its sub-folders)");
  const first = await firstImage(path);
  const { height, width, grey } = await imageInfo(first);
  const ds = await loadImageFolder(path, { height, width, channels: grey ? 1 : 3 });
  return { name, inputShape: ds.inputShape, classes: ds.classes, examples: ds.n, classNames: ds.classNames, csv: false };
}

async function firstImage(root: string): Promise<string> {
  for (const dir of (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const file = (await readdir(join(root, dir))).filter(isImageFile).sort()[0];
    if (file !== undefined) return join(root, dir, file);
  }
  throw new AgentError("USAGE", `--dataset: ${root} has no .png or .jpg image in a class folder (root/<class>/<image>)`);
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
