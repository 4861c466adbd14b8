import { readFile, readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { MlError } from "../errors.js";
import { checkDataset } from "./dataset.js";
import type { Dataset } from "./dataset.js";
import type { DatasetDescription } from "./description.js";

export type ImageFolderOptions = {
  /** Every image must be exactly this size (no resampling: a silent resize would change the task). */
  height: number;
  width: number;
  /** 1: luma (ITU-R BT.601) of RGB; 3: RGB. Alpha is dropped. */
  channels: 1 | 3;
  /** Largest decoded image accepted, in pixels (a guard against decompression bombs). */
  maxPixels?: number;
};

const EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/**
 * A folder with one sub-folder per class (`root/<class>/<image>.png|jpg`, as Keras'
 * image_dataset_from_directory reads it). Classes are the sub-folder names sorted; examples are
 * in class order, then file-name order. Pixels scale to [0, 1]; x is `[n, height, width, channels]`.
 * Errors name the file: DATASET_INVALID.
 */
export async function loadImageFolder(root: string, opts: ImageFolderOptions): Promise<Dataset & { classNames: string[] }> {
  const bad = (message: string, cause?: unknown): never => {
    throw new MlError("DATASET_INVALID", `${root}: ${message}`, { cause, context: { source: root } });
  };
  const entries = await readdir(root, { withFileTypes: true }).catch((cause) => bad(`cannot read the folder (${(cause as Error).message})`, cause));
  const classNames = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classNames.length < 2) bad(`found ${classNames.length} class folders; need at least 2`);

  const per = opts.height * opts.width * opts.channels;
  const examples: { pixels: Float32Array; label: number }[] = [];
  for (const [label, name] of classNames.entries()) {
    const files = (await readdir(join(root, name))).filter((f) => EXTENSIONS.has(extname(f).toLowerCase())).sort();
    for (const file of files) {
      const path = join(name, file);
      const bytes = await readFile(join(root, path));
      let image: { width: number; height: number; data: Uint8Array };
      try {
        image = decode(bytes, extname(file).toLowerCase(), opts.maxPixels ?? 4096 * 4096);
      } catch (cause) {
        return bad(`${path}: not a readable image (${(cause as Error).message})`, cause);
      }
      if (image.width !== opts.width || image.height !== opts.height) {
        bad(`${path} is ${image.width}×${image.height}, expected ${opts.width}×${opts.height}`);
      }
      examples.push({ pixels: toChannels(image.data, opts.channels, per), label });
    }
  }
  if (examples.length === 0) bad("no .png or .jpg images in the class folders");
  const x = new Float32Array(examples.length * per);
  examples.forEach((e, i) => x.set(e.pixels, i * per));
  const y = Int32Array.from(examples, (e) => e.label);
  const description: DatasetDescription = {
    classNames,
    preprocessing: { kind: "image", source: "folder", height: opts.height, width: opts.width, channels: opts.channels, flatten: false },
  };
  return { ...checkDataset({ x, y, n: examples.length, inputShape: [opts.height, opts.width, opts.channels], classes: classNames.length }, root), classNames, description };
}

/**
 * One image file as the loader reads it: exactly `height` × `width`, `channels` as in
 * ImageFolderOptions, values in [0, 1], `[height, width, channels]` row-major. DATASET_INVALID
 * naming the file.
 */
export async function readImage(path: string, opts: ImageFolderOptions): Promise<Float32Array> {
  const bad = (message: string, cause?: unknown): never => {
    throw new MlError("DATASET_INVALID", `${path}: ${message}`, { cause, context: { source: path } });
  };
  const bytes = await readFile(path).catch((cause) => bad(`cannot read (${(cause as Error).message})`, cause));
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = decode(bytes, extname(path).toLowerCase(), opts.maxPixels ?? 4096 * 4096);
  } catch (cause) {
    return bad(`not a readable image (${(cause as Error).message})`, cause);
  }
  if (image.width !== opts.width || image.height !== opts.height) bad(`is ${image.width}×${image.height}, expected ${opts.width}×${opts.height} (no resizing: the model was trained at that size)`);
  return toChannels(image.data, opts.channels, opts.height * opts.width * opts.channels);
}

/** An image file's size, and whether it is grey (R = G = B everywhere): what `podl spec init` needs. */
export async function imageInfo(path: string): Promise<{ height: number; width: number; grey: boolean }> {
  const image = decode(await readFile(path), extname(path).toLowerCase(), 4096 * 4096);
  let grey = true;
  for (let i = 0; i < image.data.length && grey; i += 4) grey = image.data[i] === image.data[i + 1] && image.data[i] === image.data[i + 2];
  return { height: image.height, width: image.width, grey };
}

/** Whether a file name is one of the image types the loaders read (.png, .jpg, .jpeg). */
export function isImageFile(name: string): boolean {
  return EXTENSIONS.has(extname(name).toLowerCase());
}

/** RGBA pixels, 4 bytes each. */
function decode(bytes: Buffer, ext: string, maxPixels: number): { width: number; height: number; data: Uint8Array } {
  if (ext === ".png") {
    // IHDR sits at a fixed place: check the size before inflating anything.
    if (bytes.length >= 24 && bytes.readUInt32BE(16) * bytes.readUInt32BE(20) > maxPixels) {
      throw new Error(`${bytes.readUInt32BE(16)}×${bytes.readUInt32BE(20)} pixels exceeds ${maxPixels}`);
    }
    return PNG.sync.read(bytes);
  }
  return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6 });
}

function toChannels(rgba: Uint8Array, channels: 1 | 3, size: number): Float32Array {
  const out = new Float32Array(size);
  const pixels = size / channels;
  for (let p = 0; p < pixels; p++) {
    const [r, g, b] = [rgba[p * 4]!, rgba[p * 4 + 1]!, rgba[p * 4 + 2]!];
    if (channels === 1) out[p] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else out.set([r / 255, g / 255, b / 255], p * 3);
  }
  return out;
}
