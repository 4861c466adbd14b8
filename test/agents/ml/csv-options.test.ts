import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseCsvDataset } from "../../../agents/ml/datasets/csv.js";
import { readTable } from "../../../agents/ml/datasets/inputs.js";
import { tabularCsv } from "../helpers/tabular.js";

describe("agents/ml CSV options: label column by name, standardisation", function () {
  it("standardises each feature to mean 0 and deviation 1, records the transform, and readTable applies it to new rows", async () => {
    const { text } = tabularCsv(80);
    const ds = parseCsvDataset(text, "biomes.csv", { label: "biome", standardize: true });
    const p = ds.description!.preprocessing;
    if (p.kind !== "table") throw new Error("expected a table");
    expect(p.label).to.deep.equal({ index: 2, name: "biome" });
    expect(p.features.map((f) => f.name)).to.deep.equal(["elevation", "noise_a", "rain_mm", "temp_c", "noise_b", "wind"]);
    expect(p.transform!.subtract).to.have.length(6);
    for (let j = 0; j < 6; j++) {
      const column = Array.from({ length: ds.n }, (_, i) => ds.x[i * 6 + j]!);
      const mean = column.reduce((a, b) => a + b, 0) / ds.n;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / ds.n;
      // Plain comparisons: hardhat's chai matchers read closeTo(0, …) as a bigint comparison.
      expect(Math.abs(mean) <= 1e-4, `column ${j} mean ${mean}`).to.equal(true);
      expect(Math.abs(variance - 1) <= 1e-3, `column ${j} variance ${variance}`).to.equal(true);
    }
    const dir = mkdtempSync(join(tmpdir(), "podl-csv-"));
    try {
      writeFileSync(join(dir, "rows.csv"), text);
      const inputs = await readTable(join(dir, "rows.csv"), p);
      expect(inputs.n).to.equal(ds.n);
      for (let i = 0; i < ds.x.length; i++) expect(Math.abs(inputs.x[i]! - ds.x[i]!) <= 1e-4, `value ${i}`).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves values as they are without standardisation (no transform recorded)", () => {
    const ds = parseCsvDataset("a,label,b\n1,x,2\n3,y,4\n", "f.csv", { label: "label" });
    expect(Array.from(ds.x)).to.deep.equal([1, 2, 3, 4]);
    expect(ds.description!.preprocessing).to.not.have.property("transform");
  });

  it("names the missing label column before any shape complaint, with a spec's input shape given", () => {
    const { text } = tabularCsv(40);
    expect(() => parseCsvDataset(text, "biomes.csv", { inputShape: [6] })).to.throw('label column missing? column 7 ("wind")');
  });
});
