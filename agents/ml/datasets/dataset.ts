import { MlError } from "../errors.js";
import type { DatasetDescription } from "./description.js";

/**
 * Examples in memory: `x` row-major `[n, ...inputShape]`, `y` class indices in `[0, classes)`.
 * Loaders add `description` (class names, preprocessing) for the task document.
 */
export type Dataset = { x: Float32Array; y: Int32Array; n: number; inputShape: number[]; classes: number; description?: DatasetDescription };

/** Checks a dataset's sizes, labels and values; throws MlError DATASET_INVALID naming `source`. */
export function checkDataset(ds: Dataset, source: string): Dataset {
  const per = ds.inputShape.reduce((a, b) => a * b, 1);
  const bad = (message: string): never => {
    throw new MlError("DATASET_INVALID", `${source}: ${message}`, { context: { source } });
  };
  if (ds.n < 1) bad("no examples");
  if (ds.x.length !== ds.n * per) bad(`x has ${ds.x.length} values, expected ${ds.n} × ${per}`);
  if (ds.y.length !== ds.n) bad(`y has ${ds.y.length} labels, expected ${ds.n}`);
  if (ds.classes < 2) bad(`${ds.classes} classes; need at least 2`);
  for (let i = 0; i < ds.n; i++) {
    const label = ds.y[i]!;
    if (label < 0 || label >= ds.classes) bad(`label ${label} of example ${i} is outside [0, ${ds.classes})`);
  }
  for (let i = 0; i < ds.x.length; i++) {
    if (!Number.isFinite(ds.x[i]!)) bad(`value ${ds.x[i]} at x[${i}] is not finite`);
  }
  return ds;
}
