import { readFile } from "node:fs/promises";
import { MlError } from "../errors.js";
import { checkDataset } from "./dataset.js";
import type { Dataset } from "./dataset.js";
import type { DatasetDescription } from "./description.js";

export type CsvOptions = {
  /** Column holding the class (index or header name); default: the last column. */
  label?: number | string;
  /** The first row names the columns; default: true when its feature cells are not numbers. */
  header?: boolean;
  /** Shape of one example; default `[number of feature columns]`. */
  inputShape?: number[];
  /** Class names in index order; default: integer labels as they are, text labels sorted. */
  classNames?: string[];
  delimiter?: string;
  /** Standardise each feature to mean 0, standard deviation 1 (recorded as the preprocessing's `transform`). */
  standardize?: boolean;
};

/**
 * A CSV file (RFC 4180: quoted fields, "" escapes, CRLF or LF) of numeric features and one label
 * column. Rows keep file order. Labels are integer class indices, or names mapped through
 * `classNames` (or their sorted set). Errors name the line and column: DATASET_INVALID.
 */
export async function loadCsv(path: string, opts: CsvOptions = {}): Promise<Dataset & { classNames: string[] }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new MlError("DATASET_INVALID", `${path}: cannot read (${(cause as Error).message})`, { cause, context: { source: path } });
  }
  return parseCsvDataset(text, path, opts);
}

export function parseCsvDataset(text: string, source: string, opts: CsvOptions = {}): Dataset & { classNames: string[] } {
  const bad = (message: string): never => {
    throw new MlError("DATASET_INVALID", `${source}: ${message}`, { context: { source } });
  };
  const rows = parseCsv(text, opts.delimiter ?? ",", bad);
  if (rows.length === 0) bad("empty file");
  const width = rows[0]!.cells.length;
  if (width < 2) bad("need at least one feature column and a label column");

  const isNumber = (s: string) => s.trim() !== "" && Number.isFinite(Number(s));
  const first = rows[0]!.cells;
  let labelColumn = width - 1;
  if (typeof opts.label === "number") labelColumn = opts.label;
  const header = opts.header ?? (typeof opts.label === "string" || first.some((c, i) => i !== labelColumn && !isNumber(c)));
  if (typeof opts.label === "string") {
    if (!header) bad(`label column "${opts.label}" named, but the file has no header row`);
    labelColumn = first.findIndex((c) => c.trim() === opts.label);
    if (labelColumn < 0) bad(`label column: no column named "${opts.label}" (the columns: ${first.map((c) => c.trim()).join(", ")})`);
  }
  if (labelColumn < 0 || labelColumn >= width) bad(`label column ${labelColumn} outside 0..${width - 1}`);

  const body = header ? rows.slice(1) : rows;
  if (body.length === 0) bad("no data rows");
  for (const row of body) {
    if (row.cells.length !== width) bad(`line ${row.line}: ${row.cells.length} fields, expected ${width}`);
  }
  const rawLabels = body.map((r) => r.cells[labelColumn]!.trim());
  checkLabelColumn(rawLabels, labelColumn, header ? first[labelColumn]!.trim() : undefined, opts.label === undefined, bad);
  const features = width - 1;
  const inputShape = opts.inputShape ?? [features];
  if (inputShape.reduce((a, b) => a * b, 1) !== features) bad(`inputShape [${inputShape}] does not hold ${features} features`);
  const integerLabels = rawLabels.every((l) => /^(0|[1-9][0-9]*)$/.test(l));
  const classNames =
    opts.classNames ?? (integerLabels ? Array.from({ length: Math.max(...rawLabels.map(Number)) + 1 }, (_, i) => String(i)) : [...new Set(rawLabels)].sort());
  const classIndex = new Map(classNames.map((name, i) => [name, i]));

  const x = new Float32Array(body.length * features);
  const y = new Int32Array(body.length);
  body.forEach((row, r) => {
    let k = 0;
    row.cells.forEach((cell, c) => {
      if (c === labelColumn) return;
      if (!isNumber(cell)) bad(`line ${row.line}, column ${c + 1}: ${JSON.stringify(cell)} is not a number`);
      x[r * features + k++] = Number(cell);
    });
    const label = classIndex.get(rawLabels[r]!);
    if (label === undefined) bad(`line ${row.line}: unknown class ${JSON.stringify(rawLabels[r])}`);
    y[r] = label!;
  });
  const transform = opts.standardize === true ? standardize(x, features) : undefined;
  const column = (index: number) => (header ? { index, name: first[index]!.trim() } : { index });
  const description: DatasetDescription = {
    classNames,
    preprocessing: {
      kind: "table",
      source: "csv",
      header,
      delimiter: opts.delimiter ?? ",",
      label: column(labelColumn),
      features: first.flatMap((_, c) => (c === labelColumn ? [] : [column(c)])),
      ...(transform === undefined ? {} : { transform }),
    },
  };
  return { ...checkDataset({ x, y, n: body.length, inputShape, classes: classNames.length }, source), classNames, description };
}

/**
 * A label column holds integer class indices or class names. Numbers with a fraction (or a class per
 * row) mean the column is a feature: the label column is missing or is another one.
 */
function checkLabelColumn(labels: string[], index: number, name: string | undefined, byDefault: boolean, bad: (m: string) => never): void {
  const fractional = labels.find((l) => l !== "" && Number.isFinite(Number(l)) && !Number.isInteger(Number(l)));
  const distinct = new Set(labels).size;
  const manyClasses = distinct > 1000 || (labels.length >= 20 && distinct > labels.length / 2);
  if (fractional === undefined && !manyClasses) return;
  const which = `column ${index + 1}${name === undefined ? "" : ` ("${name}")`}`;
  const why = fractional !== undefined ? `holds ${JSON.stringify(fractional)}, not a class` : `holds ${distinct} distinct values in ${labels.length} rows, not classes`;
  bad(
    `label column missing? ${which}${byDefault ? ", the last (the default label column)," : ""} ${why}; name the column of class labels with --label-column`,
  );
}

/** Standardises `x` (`[n, features]`) in place per feature; a constant feature is only centred. */
function standardize(x: Float32Array, features: number): { subtract: number[]; divide: number[] } {
  const n = x.length / features;
  const subtract: number[] = [];
  const divide: number[] = [];
  for (let j = 0; j < features; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[i * features + j]!;
    const mean = sum / n;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += (x[i * features + j]! - mean) ** 2;
    const std = Math.sqrt(squares / n);
    subtract.push(mean);
    divide.push(std > 0 ? std : 1);
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < features; j++) x[i * features + j] = (x[i * features + j]! - subtract[j]!) / divide[j]!;
  return { subtract, divide };
}

/** RFC 4180 records with the line each starts on; blank lines are skipped. */
export function parseCsv(text: string, delimiter: string, bad: (m: string) => never): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  const endRecord = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0] !== "") records.push({ line: start, cells });
    cells = [];
    cell = "";
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch !== '"') {
        if (ch === "\n") line++;
        cell += ch;
      } else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else {
        quoted = false;
      }
    } else if (ch === '"' && cell === "") {
      quoted = true;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      start = ++line;
    } else {
      cell += ch;
    }
  }
  if (quoted) bad(`line ${start}: unterminated quoted field`);
  endRecord();
  return records;
}
