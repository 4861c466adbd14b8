export { checkDataset } from "./dataset.js";
export type { Dataset } from "./dataset.js";
export { loadIris, loadMnist } from "./bundled.js";
export { loadCsv, parseCsvDataset } from "./csv.js";
export type { CsvOptions } from "./csv.js";
export { loadImageFolder } from "./images.js";
export type { ImageFolderOptions } from "./images.js";
export { DatasetDescriptionSchema, PreprocessingSchema } from "./description.js";
export type { DatasetDescription, ImagePreprocessing, Preprocessing, TablePreprocessing } from "./description.js";
