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
    labelColumn = first.indexOf(opts.label);
    if (labelColumn < 0) bad(`no column named "${opts.label}" in the header`);
  }
  if (labelColumn < 0 || labelColumn >= width) bad(`label column ${labelColumn} outside 0..${width - 1}`);

  const body = header ? rows.slice(1) : rows;
  if (body.length === 0) bad("no data rows");
  const features = width - 1;
  const inputShape = opts.inputShape ?? [features];
  if (inputShape.reduce((a, b) => a * b, 1) !== features) bad(`inputShape [${inputShape}] does not hold ${features} features`);

  for (const row of body) {
    if (row.cells.length !== width) bad(`line ${row.line}: ${row.cells.length} fields, expected ${width}`);
  }
  const rawLabels = body.map((r) => r.cells[labelColumn]!.trim());
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
    },
  };
  return { ...checkDataset({ x, y, n: body.length, inputShape, classes: classNames.length }, source), classNames, description };
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
