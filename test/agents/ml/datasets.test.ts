import { expectClose } from "./helpers/close.js";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { loadCsv, loadImageFolder, loadIris, loadMnist, parseCsvDataset } from "../../../agents/ml/datasets/index.js";
import { isMlError } from "../../../agents/ml/errors.js";

async function datasetError(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    if (isMlError(e, "DATASET_INVALID")) return e.message;
    throw e;
  }
  throw new Error("expected DATASET_INVALID");
}

function png(width: number, height: number, value: (x: number, y: number) => [number, number, number]): Buffer {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = value(x, y);
      image.data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return PNG.sync.write(image);
}

describe("ml/datasets", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "podl-datasets-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads Iris: 150 × 4 features, three classes interleaved", () => {
    const iris = loadIris();
    expect(iris.n).to.equal(150);
    expect(iris.inputShape).to.deep.equal([4]);
    expect(iris.classes).to.equal(3);
    expect([...iris.y.subarray(0, 6)]).to.deep.equal([0, 1, 2, 0, 1, 2]);
    expect([...iris.x.subarray(0, 4)]).to.deep.equal([5.1 / 7.9, 3.5 / 4.4, 1.4 / 6.9, 0.2 / 2.5].map(Math.fround)); // Fisher's first setosa over each feature's max
  });

  it("loads bundled MNIST deterministically, train and test disjoint, digits interleaved", () => {
    const a = loadMnist({ train: 100, test: 50 });
    const b = loadMnist({ train: 100, test: 50, image: true });
    expect([a.train.n, a.test.n]).to.deep.equal([100, 50]);
    expect(a.train.inputShape).to.deep.equal([784]);
    expect(b.train.inputShape).to.deep.equal([28, 28, 1]);
    expect(b.train.x).to.deep.equal(a.train.x);
    expect([...a.train.y.subarray(0, 12)]).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(Math.min(...a.train.x)).to.be.at.least(0);
    expect(Math.max(...a.train.x)).to.be.at.most(1);
    const image = (x: Float32Array, i: number) => x.subarray(i * 784, (i + 1) * 784).join();
    const trainImages = new Set(Array.from({ length: 100 }, (_, i) => image(a.train.x, i)));
    expect(Array.from({ length: 50 }, (_, i) => image(a.test.x, i)).filter((t) => trainImages.has(t))).to.deep.equal([]);
  });

  it("adds every MNIST image after the test slice to training with rest, leaving the test slice as it was", () => {
    const balanced = loadMnist({ train: 7000, test: 1600 });
    const all = loadMnist({ train: 7000, test: 1600, rest: true });
    expect([all.train.n, all.test.n]).to.deep.equal([8400, 1600]);
    expect(all.test.x).to.deep.equal(balanced.test.x);
    expect(all.train.x.subarray(0, 7000 * 784)).to.deep.equal(balanced.train.x);
    const image = (x: Float32Array, i: number) => x.subarray(i * 784, (i + 1) * 784).join();
    const testImages = new Set(Array.from({ length: 1600 }, (_, i) => image(all.test.x, i)));
    expect(Array.from({ length: 1400 }, (_, i) => image(all.train.x, 7000 + i)).filter((t) => testImages.has(t))).to.deep.equal([]);
    expect(all.train.y.subarray(7000).filter((d) => d === 5)).to.have.length(3); // the rarest digit: 863 = 700 + 160 + 3
  });

  it("refuses an MNIST request larger than the bundled set", async () => {
    expect(await datasetError(() => loadMnist({ train: 60_000, test: 10_000 }))).to.match(/per digit/);
  });

  it("loads a CSV with a header, quoted fields and named classes", async () => {
    const path = join(dir, "flowers.csv");
    writeFileSync(path, 'sepal,"petal, length",species\r\n1.5,2,"virginica"\n3,4e-1,setosa\n\n-1,0.5,"vir""ginica"\n');
    const ds = await loadCsv(path);
    expect(ds.classNames).to.deep.equal(["setosa", "vir\"ginica", "virginica"]);
    expect([...ds.x]).to.deep.equal([1.5, 2, 3, Math.fround(0.4), -1, 0.5]);
    expect([...ds.y]).to.deep.equal([2, 0, 1]);
    expect(ds.inputShape).to.deep.equal([2]);
  });

  it("loads integer labels from a chosen column without a header, with an input shape", () => {
    const ds = parseCsvDataset("2,1,0,0,1\n0,0,1,1,0\n", "inline", { label: 0, inputShape: [2, 2] });
    expect([...ds.y]).to.deep.equal([2, 0]);
    expect(ds.classes).to.equal(3);
    expect(ds.inputShape).to.deep.equal([2, 2]);
    expect([...ds.x]).to.deep.equal([1, 0, 0, 1, 0, 1, 1, 0]);
  });

  it("rejects bad CSV with the line and column", async () => {
    expect(await datasetError(() => parseCsvDataset("a,b,label\n1,2,x\n1,oops,y\n", "f.csv"))).to.equal('f.csv: line 3, column 2: "oops" is not a number');
    expect(await datasetError(() => parseCsvDataset("1,2,0\n1,1\n", "f.csv"))).to.match(/line 2: 2 fields, expected 3/);
    expect(await datasetError(() => parseCsvDataset("1,2,cat\n", "f.csv", { classNames: ["dog"] }))).to.match(/unknown class "cat"/);
    expect(await datasetError(() => parseCsvDataset('1,"2,0\n', "f.csv"))).to.match(/unterminated/);
    expect(await datasetError(() => loadCsv(join(dir, "missing.csv")))).to.match(/cannot read/);
  });

  it("loads a folder of PNG and JPEG images, one sub-folder per class", async () => {
    mkdirSync(join(dir, "cat"));
    mkdirSync(join(dir, "dog"));
    writeFileSync(join(dir, "cat", "a.png"), png(4, 3, () => [255, 255, 255]));
    writeFileSync(join(dir, "cat", "b.png"), png(4, 3, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 0])));
    const white = { width: 4, height: 3, data: Buffer.alloc(4 * 3 * 4, 255) };
    writeFileSync(join(dir, "dog", "c.jpg"), jpeg.encode(white, 100).data);
    writeFileSync(join(dir, "dog", "notes.txt"), "ignored");

    const gray = await loadImageFolder(dir, { height: 3, width: 4, channels: 1 });
    expect(gray.classNames).to.deep.equal(["cat", "dog"]);
    expect([...gray.y]).to.deep.equal([0, 0, 1]);
    expect(gray.inputShape).to.deep.equal([3, 4, 1]);
    expect(gray.x[0]).to.equal(1);
    expectClose(gray.x[12], 0.299, 1e-6); // red pixel, BT.601 luma
    expect(gray.x[13]).to.equal(0);
    expectClose(gray.x[24], 1, 0.02); // JPEG is lossy

    const rgb = await loadImageFolder(dir, { height: 3, width: 4, channels: 3 });
    expect([...rgb.x.subarray(36, 39)]).to.deep.equal([1, 0, 0]);
  });

  it("rejects images of the wrong size, unreadable files and folders without classes", async () => {
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "b"));
    writeFileSync(join(dir, "a", "x.png"), png(5, 5, () => [0, 0, 0]));
    expect(await datasetError(() => loadImageFolder(dir, { height: 3, width: 4, channels: 1 }))).to.match(/a\/x\.png is 5×5, expected 4×3/);
    writeFileSync(join(dir, "a", "x.png"), Buffer.from("not a png"));
    expect(await datasetError(() => loadImageFolder(dir, { height: 5, width: 5, channels: 1 }))).to.match(/a\/x\.png: not a readable image/);
    rmSync(join(dir, "b"), { recursive: true });
    expect(await datasetError(() => loadImageFolder(dir, { height: 5, width: 5, channels: 1 }))).to.match(/need at least 2/);
  });
});
