import { stat, writeFile } from "node:fs/promises";
import { AgentError } from "../../config/errors.js";
import { selectBackend } from "../../ml/backend.js";
import { readInputs } from "../../ml/datasets/inputs.js";
import { loadModelExport } from "../../ml/export.js";
import { predictClasses } from "../../ml/predict.js";
import type { Command } from "../command.js";

const BACKENDS = ["wasm", "cpu"] as const;

/** `podl predict`: an exported model (`podl model get`) applied to a CSV file, an image or a folder of images. */
export const predictCommand: Command = {
  name: "predict",
  summary: "predict with an exported model: one label per CSV row or image",
  description: [
    "Loads a folder written by `podl model get` (model.json, weights.bin, labels.json, preprocessing.json),",
    "prepares --input the way the task's data was prepared, and prints one line per CSV row or image:",
    "the row or file, the predicted label and its probability. With a header row, a CSV's features are",
    "found by name (the label column may be present; it is ignored); without one, rows hold the features in",
    "the task's order, or every column of the task's file. Images must have the task's size. With --out",
    "it writes a CSV (id,label,probability) instead. --json prints one JSON object per prediction.",
  ].join("\n"),
  options: {
    model: { type: "string", description: "folder written by `podl model get` (required)", value: "dir" },
    input: { type: "string", description: "a .csv file, an image, or a folder of images (sub-folders included) (required)", value: "file|folder" },
    out: { type: "string", description: "write the predictions as CSV here instead of printing them", value: "file.csv" },
    backend: { type: "string", description: "TensorFlow.js backend: wasm (default) or cpu", value: "wasm|cpu" },
    json: { type: "boolean", description: "print one JSON object per line instead of text" },
  },
  async run({ values, positionals, io }) {
    if (positionals.length > 0) throw new AgentError("USAGE", `unexpected argument ${JSON.stringify(positionals[0])} (give the data with --input)`);
    const model = requiredString(values.model, "--model", "the folder `podl model get` wrote");
    const input = requiredString(values.input, "--input", "a .csv file, an image or a folder of images");
    const out = values.out === undefined ? undefined : requiredString(values.out, "--out", "a .csv file to write");
    if (out !== undefined && !out.toLowerCase().endsWith(".csv")) throw new AgentError("USAGE", `--out: must be a .csv file, got ${JSON.stringify(out)}`);
    const backend = values.backend ?? "wasm";
    if (typeof backend !== "string" || !(BACKENDS as readonly string[]).includes(backend)) {
      throw new AgentError("USAGE", `--backend: must be ${BACKENDS.join(" or ")}, got ${JSON.stringify(backend)}`);
    }
    await mustExist(model, "--model", true);
    await mustExist(input, "--input", undefined);
    await selectBackend({ force: backend as (typeof BACKENDS)[number] });

    const loaded = await loadModelExport(model);
    try {
      if (loaded.preprocessing === undefined) {
        throw new AgentError("USAGE", `--model: ${model}/preprocessing.json records no preprocessing (the task document predates it), so --input cannot be prepared`);
      }
      const inputs = await readInputs(input, loaded.preprocessing);
      const predictions = await predictClasses(loaded.model, inputs.x, inputs.n);
      const rows = predictions.map((p, i) => ({ id: inputs.ids[i]!, label: loaded.labels[p.index]!, probability: p.probability }));
      if (out !== undefined) {
        await writeFile(out, ["id,label,probability", ...rows.map((r) => [r.id, r.label, r.probability.toFixed(6)].map(csvCell).join(","))].join("\n") + "\n");
        io.err(`wrote ${rows.length} predictions to ${out}`);
      } else if (values.json === true) {
        for (const r of rows) io.out(JSON.stringify(r));
      } else {
        for (const r of rows) io.out(`${r.id}: ${r.label} (${(r.probability * 100).toFixed(1)} %)`);
      }
      return 0;
    } finally {
      loaded.model.dispose();
    }
  },
};

function requiredString(value: string | boolean | undefined, flag: string, what: string): string {
  if (typeof value !== "string" || value.trim() === "") throw new AgentError("USAGE", `${flag}: required, ${what}`);
  return value;
}

async function mustExist(path: string, flag: string, folder: boolean | undefined): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new AgentError("USAGE", `${flag}: ${path} does not exist`);
  if (folder === true && !info.isDirectory()) throw new AgentError("USAGE", `${flag}: ${path} is not a folder`);
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
