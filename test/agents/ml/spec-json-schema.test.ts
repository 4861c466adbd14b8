import { readFileSync } from "node:fs";
import { expect } from "chai";
import { Ajv2020 } from "ajv/dist/2020.js";
import { presets } from "../../../agents/ml/spec.js";
import { TASK_SPEC_SCHEMA_PATH, taskSpecJsonSchemaText } from "../../../agents/ml/spec-json-schema.js";

describe("docs/task-spec.schema.json", function () {
  it("is the JSON Schema generated from the zod schema (regenerate: npx tsx scripts/json-schema.ts)", () => {
    expect(readFileSync(TASK_SPEC_SCHEMA_PATH, "utf8")).to.equal(taskSpecJsonSchemaText());
  });

  it("accepts the presets and rejects an unknown layer type and an extra field, as parseSpec does", () => {
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(taskSpecJsonSchemaText()));
    for (const [name, spec] of Object.entries(presets)) expect(validate(spec), `${name}: ${JSON.stringify(validate.errors)}`).to.equal(true);
    const base = presets.irisMlp;
    expect(validate({ ...base, layers: [{ type: "conv3d" }, ...base.layers] })).to.equal(false);
    expect(validate({ ...base, colour: "blue" })).to.equal(false);
  });
});
