import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseSpec } from "../../../../agents/ml/spec.js";
import { podl } from "../../helpers/podl-io.js";
import { tabularCsv } from "../../helpers/tabular.js";

describe("agents/cli podl spec init / spec check", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "podl-spec-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("spec init writes a valid spec from a CSV whose label column is named and not last, and the publish line for it", async () => {
    const csv = join(dir, "biomes.csv");
    writeFileSync(csv, tabularCsv(200).text);
    const out = join(dir, "spec.json");
    const r = await podl(["spec", "init", "--dataset", csv, "--label-column", "biome", "--out", out, "--json"]);
    expect(r.code, r.err).to.equal(0);
    const report = JSON.parse(r.out);
    expect(report.classNames).to.deep.equal(["alpine", "boreal", "coastal", "desert"]);
    expect(report.inputShape).to.deep.equal([6]);
    expect(report.publish).to.include.members(["--label-column", "biome", "--feature-scaling", "standard", "--train-window"]);
    const spec = parseSpec(readFileSync(out, "utf8"));
    expect(spec.classes).to.equal(4);
    expect(spec.layers.at(-1)).to.include({ type: "dense", units: 4, activation: "softmax" });
    expect((await podl(["spec", "check", out])).out).to.contain("valid spec");
    // never overwrites
    const again = await podl(["spec", "init", "--dataset", csv, "--label-column", "biome", "--out", out]);
    expect(again.code).to.equal(2);
    expect(again.err).to.contain(`--out: ${out} exists`);
  });

  it("spec init fails naming the label column when the CSV has none of that name, or when the last column is a feature", async () => {
    const csv = join(dir, "biomes.csv");
    writeFileSync(csv, tabularCsv(40).text);
    const named = await podl(["spec", "init", "--dataset", csv, "--label-column", "species", "--out", join(dir, "a.json")]);
    expect(named.code).to.equal(1);
    expect(named.err).to.contain('label column: no column named "species"').and.contain("elevation, noise_a, biome");
    const byDefault = await podl(["spec", "init", "--dataset", csv, "--out", join(dir, "b.json")]);
    expect(byDefault.code).to.equal(1);
    expect(byDefault.err).to.contain('label column missing? column 7 ("wind"), the last (the default label column),').and.contain("--label-column");
  });

  it("spec check names the field and the allowed values: an unknown layer, an unknown optimizer, a wrong last layer", async () => {
    const base = JSON.parse(JSON.stringify((await import("../../../../agents/ml/spec.js")).presets.irisMlp));
    const cases: [unknown, string][] = [
      [{ ...base, layers: [{ type: "conv3d", filters: 2 }, base.layers[1]] }, 'spec.layers.0.type: unknown type "conv3d" (expected dense, conv2d, maxPooling2d, flatten, dropout, batchNormalization)'],
      [{ ...base, optimizer: { name: "adamw", learningRate: 0.01 } }, "spec.optimizer.name: Invalid enum value. Expected 'sgd' | 'adam' | 'rmsprop', received 'adamw'"],
      [{ ...base, layers: [base.layers[0]] }, "spec.layers.0: the last layer must be dense with 3 units (the classes) and softmax"],
    ];
    for (const [spec, message] of cases) {
      const file = join(dir, "bad.json");
      writeFileSync(file, JSON.stringify(spec));
      const r = await podl(["spec", "check", file]);
      expect(r.code).to.equal(1);
      expect(r.err).to.contain(`${file}: ${message}`).and.contain("[SPEC_INVALID]");
    }
  });
});
