import { expect } from "chai";
import { draftSpec } from "../../../agents/ml/spec-draft.js";
import { presets } from "../../../agents/ml/spec.js";

describe("ml/spec-draft: podl spec init's starter spec", () => {
  it("gives images the CNN preset's SML and seeded shifts, and rows of features an MLP without shifts", () => {
    const image = draftSpec({ name: "digits", inputShape: [28, 28, 1], classes: 10, examples: 2_000 });
    expect(image.sml).to.deep.equal(presets.mnistCnn.sml);
    expect(image.augment).to.deep.equal(presets.mnistCnn.augment);
    const rows = draftSpec({ name: "rows", inputShape: [6], classes: 3, examples: 500 });
    expect(rows.sml.kind).to.equal("dense");
    expect(rows.augment).to.equal(undefined);
  });
});
