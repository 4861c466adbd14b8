import { readFile, readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { MlError } from "../errors.js";
import { parseCsv } from "./csv.js";
import type { ImagePreprocessing, Preprocessing, TablePreprocessing } from "./description.js";
import { isImageFile, readImage } from "./images.js";

/**
 * New examples for a trained model, prepared the way the task's were (the preprocessing its task
 * document recorded): the rows of a CSV file, or an image file, or every image in a folder and its
 * sub-folders (a class-folder layout works as it is).
 */

/** `x` row-major `[n, ...]`; `ids[i]` names example i ("line 3", "cats/001.png"). */
export type Inputs = { x: Float32Array; n: number; ids: string[] };

export async function readInputs(path: string, preprocessing: Preprocessing): Promise<Inputs> {
  return preprocessing.kind === "table" ? await readTable(path, preprocessing) : await readImages(path, preprocessing);
}

/**
 * A CSV's rows. A first row holding every feature name the task recorded is a header: features are
 * found by name (the label column may be there or not, columns in any order). Otherwise a row holds
 * either the features alone, in the task's order, or every column of the task's file (the label's
 * cell is ignored).
 */
export async function readTable(path: string, p: TablePreprocessing): Promise<Inputs> {
  const bad = (message: string): never => {
    throw new MlError("DATASET_INVALID", `${path}: ${message}`, { context: { source: path } });
  };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new MlError("DATASET_INVALID", `${path}: cannot read (${(cause as Error).message})`, { cause, context: { source: path } });
  }
  const records = parseCsv(text, p.delimiter, bad);
  if (records.length === 0) bad("empty file");
  const isNumber = (s: string) => s.trim() !== "" && Number.isFinite(Number(s));
  const first = records[0]!.cells.map((c) => c.trim());
  // Without a header: the features alone, or every column of the task's file.
  const positional = first.length === p.features.length ? p.features.map((_, j) => j) : first.length === p.features.length + 1 ? p.features.map((f) => f.index) : undefined;
  const named = p.features.every((f) => f.name !== undefined && first.includes(f.name));
  const header = named || (p.header && (positional === undefined || positional.some((c) => !isNumber(first[c]!))));
  let columns: number[];
  if (named) {
    columns = p.features.map((f) => first.indexOf(f.name!));
  } else if (header) {
    const missing = p.features.find((f) => !first.includes(f.name!))!;
    columns = bad(`no column named ${JSON.stringify(missing.name)} (the task's features: ${p.features.map((f) => f.name).join(", ")})`);
  } else if (positional === undefined) {
    columns = bad(`rows have ${first.length} fields; the model takes ${p.features.length} features (or ${p.features.length + 1} fields with the label column at ${p.label.index + 1})`);
  } else if (first.every((c) => !isNumber(c))) {
    columns = bad("has a header row, but the task's CSV had none: give the features without a header");
  } else {
    columns = positional;
  }
  const body = header ? records.slice(1) : records;
  if (body.length === 0) bad("no data rows");
  const width = first.length;
  const k = columns.length;
  const x = new Float32Array(body.length * k);
  body.forEach((row, r) => {
    if (row.cells.length !== width) bad(`line ${row.line}: ${row.cells.length} fields, expected ${width}`);
    columns.forEach((c, j) => {
      const cell = row.cells[c]!;
      if (!isNumber(cell)) bad(`line ${row.line}, column ${c + 1}: ${JSON.stringify(cell)} is not a number`);
      const v = Number(cell);
      x[r * k + j] = p.transform === undefined ? v : (v - p.transform.subtract[j]!) / p.transform.divide[j]!;
    });
  });
  return { x, n: body.length, ids: body.map((row) => `line ${row.line}`) };
}

/** An image file, or the images of a folder and its sub-folders in path order. */
export async function readImages(path: string, p: ImagePreprocessing): Promise<Inputs> {
  const info = await stat(path).catch((cause: Error) => {
    throw new MlError("DATASET_INVALID", `${path}: cannot read (${cause.message})`, { cause, context: { source: path } });
  });
  const files = info.isDirectory() ? (await walk(path)).sort() : [path];
  if (files.length === 0) throw new MlError("DATASET_INVALID", `${path}: no .png or .jpg images in the folder or its sub-folders`, { context: { source: path } });
  const per = p.height * p.width * p.channels;
  const x = new Float32Array(files.length * per);
  for (const [i, file] of files.entries()) x.set(await readImage(file, { height: p.height, width: p.width, channels: p.channels }), i * per);
  return { x, n: files.length, ids: info.isDirectory() ? files.map((f) => relative(path, f)) : files };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile() && isImageFile(entry.name)) out.push(full);
  }
  return out;
}
