import { z } from "zod";

/**
 * What a task's examples mean, recorded by the publisher in the task document
 * (docs/task-document.md) so that whoever holds the trained model can feed it new data the way
 * it was trained: the class names in class-index order and the preprocessing from raw input
 * (a CSV row, an image file) to the model's input tensor.
 */

/** A column of a CSV file: its 0-based index and, with a header row, its name. */
const ColumnSchema = z.object({ index: z.number().int().min(0), name: z.string().optional() }).strict();

/**
 * Numeric rows. Features are read in `features` order (their column order in the file), the label
 * column is left out, then each feature becomes `(value - subtract[j]) / divide[j]` when
 * `transform` is given (Iris: divided by each feature's largest value), else is used as it is.
 */
const TableSchema = z
  .object({
    kind: z.literal("table"),
    /** `csv`: a publisher's file; `iris`: the bundled Iris set (sepal length, sepal width, petal length, petal width, cm). */
    source: z.enum(["csv", "iris"]),
    header: z.boolean(),
    delimiter: z.string().length(1),
    label: ColumnSchema,
    features: z.array(ColumnSchema).min(1),
    transform: z.object({ subtract: z.array(z.number()), divide: z.array(z.number().refine((v) => v !== 0, "must not be 0")) }).strict().optional(),
  })
  .strict();

/**
 * Images of exactly `height` × `width` (no resampling), alpha dropped; `channels` 1 is the luma
 * (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) of RGB, 3 is RGB; each value divided by 255 into
 * [0, 1]. `flatten`: the model takes the pixels as one vector (row-major, channels last) instead of
 * `[height, width, channels]`. `mnist`: the bundled MNIST digits (white digit on black).
 */
const ImageSchema = z
  .object({
    kind: z.literal("image"),
    source: z.enum(["folder", "mnist"]),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]),
    flatten: z.boolean(),
  })
  .strict();

export const PreprocessingSchema = z.discriminatedUnion("kind", [TableSchema, ImageSchema]).superRefine((p, ctx) => {
  if (p.kind !== "table" || p.transform === undefined) return;
  if (p.transform.subtract.length !== p.features.length || p.transform.divide.length !== p.features.length) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["transform"], message: `must have one subtract and one divide per feature (${p.features.length})` });
  }
});

export const DatasetDescriptionSchema = z
  .object({
    /** Class names in class-index order (the model's output `i` is `classNames[i]`). */
    classNames: z.array(z.string().max(1000)).min(1).max(1000),
    preprocessing: PreprocessingSchema,
  })
  .strict();

export type Preprocessing = z.infer<typeof PreprocessingSchema>;
export type TablePreprocessing = Extract<Preprocessing, { kind: "table" }>;
export type ImagePreprocessing = Extract<Preprocessing, { kind: "image" }>;
export type DatasetDescription = z.infer<typeof DatasetDescriptionSchema>;
