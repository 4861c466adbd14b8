import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { PNG } from "pngjs";
import { loadCsv } from "../../../agents/ml/datasets/csv.js";
import { loadImageFolder } from "../../../agents/ml/datasets/images.js";
import { readInputs } from "../../../agents/ml/datasets/inputs.js";
import { isMlError } from "../../../agents/ml/errors.js";

function png(width: number, height: number, value: (x: number, y: number) => [number, number, number]): Buffer {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) image.data.set([...value(x, y), 255], (y * width + x) * 4);
  }
  return PNG.sync.write(image);
}

async function datasetError(work: () => Promise<unknown>): Promise<string> {
  const e = await work().then(() => undefined, (err: unknown) => err);
  if (isMlError(e, "DATASET_INVALID")) return e.message;
  throw new Error(`expected DATASET_INVALID, got ${String(e)}`);
}

describe("ml/datasets/inputs: new examples prepared as the task's were", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "podl-inputs-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads images exactly as the image-folder loader did, from a class-folder tree or a single file", async () => {
    mkdirSync(join(dir, "images", "cat"), { recursive: true });
    mkdirSync(join(dir, "images", "dog"), { recursive: true });
    writeFileSync(join(dir, "images", "cat", "a.png"), png(4, 3, (x, y) => [x * 60, y * 80, 10]));
    writeFileSync(join(dir, "images", "dog", "b.png"), png(4, 3, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 255])));
    const trained = await loadImageFolder(join(dir, "images"), { height: 3, width: 4, channels: 3 });
    const inputs = await readInputs(join(dir, "images"), trained.description!.preprocessing);
    expect(inputs.ids).to.deep.equal([join("cat", "a.png"), join("dog", "b.png")]);
    expect(inputs.x).to.deep.equal(trained.x);
    const one = await readInputs(join(dir, "images", "dog", "b.png"), trained.description!.preprocessing);
    expect([one.n, [...one.x]]).to.deep.equal([1, [...trained.x.subarray(36)]]);
    writeFileSync(join(dir, "big.png"), png(5, 5, () => [0, 0, 0]));
    expect(await datasetError(() => readInputs(join(dir, "big.png"), trained.description!.preprocessing))).to.match(/big\.png: is 5×5, expected 4×3 \(no resizing/);
  });

  it("reads a headerless CSV of the features alone or of every column of the task's file, and refuses another width", async () => {
    writeFileSync(join(dir, "train.csv"), "1,a,2\n3,b,4\n");
    const trained = await loadCsv(join(dir, "train.csv"), { label: 1 });
    const pre = trained.description!.preprocessing;
    expect(pre).to.deep.include({ header: false, label: { index: 1 }, features: [{ index: 0 }, { index: 2 }] });
    writeFileSync(join(dir, "features.csv"), "5,6\n7,8\n");
    expect([...(await readInputs(join(dir, "features.csv"), pre)).x]).to.deep.equal([5, 6, 7, 8]);
    writeFileSync(join(dir, "full.csv"), "5,?,6\n");
    expect([...(await readInputs(join(dir, "full.csv"), pre)).x]).to.deep.equal([5, 6]);
    writeFileSync(join(dir, "wide.csv"), "1,2,3,4\n");
    expect(await datasetError(() => readInputs(join(dir, "wide.csv"), pre))).to.match(/rows have 4 fields; the model takes 2 features \(or 3 fields with the label column at 2\)/);
    writeFileSync(join(dir, "text.csv"), "5,x\n");
    expect(await datasetError(() => readInputs(join(dir, "text.csv"), pre))).to.match(/line 1, column 2: "x" is not a number/);
  });
});
