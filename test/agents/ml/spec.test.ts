import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { isMlError } from "../../../agents/ml/errors.js";
import type { MlErrorCode } from "../../../agents/ml/errors.js";
import { HARD_LIMITS, canonicalSpecJson, countModel, parseSpec, presets, specHash, weightLayout } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { referenceModel } from "./helpers/reference-model.js";

/** The spec as plain JSON, to edit into bad variants. */
function raw(spec: TaskSpec): Record<string, any> {
  return JSON.parse(canonicalSpecJson(spec));
}

function specError(input: unknown, code: MlErrorCode): { message: string; path: unknown } {
  try {
    parseSpec(input);
  } catch (e) {
    if (!isMlError(e, code)) throw e;
    return { message: e.message, path: e.context.path };
  }
  throw new Error(`parseSpec accepted a spec that should fail with ${code}`);
}

/** Keys reversed at every level: same content, different text. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

const withNorm: TaskSpec = parseSpec({
  ...raw(presets.mnistCnn),
  name: "cnn-with-norm",
  layers: [
    { type: "conv2d", filters: 6, kernelSize: 5, strides: 2, padding: "same", activation: "relu" },
    { type: "batchNormalization" },
    { type: "maxPooling2d", poolSize: 3, strides: 2, padding: "same" },
    { type: "conv2d", filters: 4, kernelSize: 3, activation: "tanh", useBias: false },
    { type: "flatten" },
    { type: "dropout", rate: 0.5 },
    { type: "dense", units: 12, activation: "elu" },
    { type: "batchNormalization", momentum: 0.9 },
    { type: "dense", units: 10, activation: "softmax" },
  ],
});

describe("ml/spec", () => {
  describe("counter", () => {
    for (const [name, spec] of [...Object.entries(presets), ["cnn-with-norm", withNorm] as const]) {
      it(`${name}: params and weight shapes agree with tf.LayersModel`, () => {
        const model = referenceModel(spec);
        try {
          const counted = countModel(spec);
          expect(counted.params).to.equal(model.countParams());
          const trainable = model.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * b!, 1), 0);
          expect(counted.trainableParams).to.equal(trainable);
          const perLayer = model.layers.flatMap((layer) => layer.weights.map((w) => w.shape));
          expect(weightLayout(spec).map((w) => w.shape)).to.deep.equal(perLayer);
        } finally {
          model.dispose();
        }
      });
    }

    it("counts FLOPs per sample: 2 per multiply-add, 1 per bias, 1 per non-linear output", () => {
      // Iris MLP: SML 4→32 (no bias, linear), dense 32→16 relu, dense 16→3 softmax.
      const sml = 2 * 4 * 32;
      const hidden = 2 * 32 * 16 + 16 + 16;
      const out = 2 * 16 * 3 + 3 + 3;
      expect(countModel(presets.irisMlp).flops).to.equal(sml + hidden + out);
    });

    it("names tensors sml.kernel then layers.<index>.<weight>, SML and moving statistics not trainable", () => {
      const layout = weightLayout(withNorm);
      expect(layout.map((w) => w.name)).to.deep.equal([
        "sml.kernel",
        "layers.0.kernel",
        "layers.0.bias",
        "layers.1.gamma",
        "layers.1.beta",
        "layers.1.movingMean",
        "layers.1.movingVariance",
        "layers.3.kernel",
        "layers.6.kernel",
        "layers.6.bias",
        "layers.7.gamma",
        "layers.7.beta",
        "layers.7.movingMean",
        "layers.7.movingVariance",
        "layers.8.kernel",
        "layers.8.bias",
      ]);
      expect(layout.filter((w) => !w.trainable).map((w) => w.name)).to.deep.equal([
        "sml.kernel",
        "layers.1.movingMean",
        "layers.1.movingVariance",
        "layers.7.movingMean",
        "layers.7.movingVariance",
      ]);
    });
  });

  describe("bad input", () => {
    it("rejects malformed JSON", () => {
      const e = specError('{"version": 1, "name": ', "SPEC_INVALID");
      expect(e.message).to.match(/malformed JSON/);
    });

    it("rejects an unknown layer type, naming it and the field", () => {
      const spec = raw(presets.irisMlp);
      spec.layers.unshift({ type: "lstm", units: 8 });
      const e = specError(JSON.stringify(spec), "SPEC_INVALID");
      expect(e.path).to.equal("layers.0.type");
      expect(e.message).to.contain('unknown type "lstm"');
    });

    it("accepts augment.shift 0..4 on an image input and rejects other values naming the field and the range", () => {
      const spec = raw(presets.mnistCnn);
      for (const shift of [0, 4]) expect(parseSpec({ ...spec, augment: { shift } }).augment).to.deep.equal({ shift });
      for (const shift of [5, -1, 1.5, "2"]) {
        const e = specError({ ...spec, augment: { shift } }, "SPEC_INVALID");
        expect(e.path, String(shift)).to.equal("augment.shift");
        expect(e.message).to.match(/augment\.shift.*integer from 0 to 4/);
      }
      const flat = specError({ ...raw(presets.mnistMlp), augment: { shift: 2 } }, "SPEC_INVALID");
      expect(flat.path).to.equal("augment.shift");
      expect(flat.message).to.match(/\[height, width, channels\] input/);
    });

    it("rejects an unknown field (a typo is not ignored)", () => {
      const spec = raw(presets.irisMlp);
      spec.layers[0].unit = 16;
      expect(specError(spec, "SPEC_INVALID").path).to.equal("layers.0");
    });

    it("rejects a huge layer over the spec's limits before allocating any tensor", () => {
      const spec = raw(presets.mnistMlp);
      spec.layers[0].units = 1_000_000_000;
      const before = tf.memory().numTensors;
      const e = specError(spec, "SPEC_LIMIT");
      expect(e.path).to.equal("limits.maxParams");
      expect(tf.memory().numTensors).to.equal(before);
    });

    it("rejects a model over the hard limits even when the spec's own limits allow it", () => {
      const spec = raw(presets.mnistCnn);
      spec.limits = { maxParams: 2 ** 31 - 1, maxFlops: Number.MAX_SAFE_INTEGER };
      spec.layers[0].filters = 4096;
      spec.layers[2].filters = 4096;
      const e = specError(spec, "SPEC_LIMIT");
      expect(e.message).to.contain(String(HARD_LIMITS.maxParams));
    });

    it("rejects FLOPs over the limit", () => {
      const spec = raw(presets.mnistCnn);
      spec.limits.maxFlops = 1000;
      expect(specError(spec, "SPEC_LIMIT").path).to.equal("limits.maxFlops");
    });

    it("rejects a layer that does not fit its input shape", () => {
      const flat = raw(presets.mnistCnn);
      flat.input.shape = [784];
      expect(specError(flat, "SPEC_INVALID").message).to.match(/conv SML needs an \[height, width, channels\] input, got \[784\]/);

      const noFlatten = raw(presets.mnistCnn);
      noFlatten.layers.splice(4, 1);
      expect(specError(noFlatten, "SPEC_INVALID").message).to.match(/layers\.4: dense needs a flat input, got \[5,5,32\]/);

      const tooSmall = raw(presets.mnistCnn);
      tooSmall.input.shape = [4, 4, 1];
      expect(specError(tooSmall, "SPEC_INVALID").message).to.match(/does not fit/);
    });

    it("rejects a last layer that is not dense(classes, softmax)", () => {
      const spec = raw(presets.irisMlp);
      spec.classes = 4;
      expect(specError(spec, "SPEC_INVALID").path).to.equal("layers.1");
    });

    it("rejects an empty free range and out-of-range values", () => {
      const range = raw(presets.irisMlp);
      range.batchSize = { free: { min: 64, max: 8 } };
      expect(specError(range, "SPEC_INVALID").path).to.equal("batchSize");
      const classes = raw(presets.irisMlp);
      classes.classes = 1;
      expect(specError(classes, "SPEC_INVALID").path).to.equal("classes");
      const rate = raw(presets.irisMlp);
      rate.optimizer.learningRate = -1;
      expect(specError(rate, "SPEC_INVALID").path).to.match(/^optimizer\.learningRate/);
    });
  });

  describe("canonical form", () => {
    it("gives the same bytes and hash for the same content in any key order", () => {
      const shuffled = parseSpec(JSON.stringify(reverseKeys(raw(presets.mnistCnn)), null, 2));
      expect(canonicalSpecJson(shuffled)).to.equal(canonicalSpecJson(presets.mnistCnn));
      expect(specHash(shuffled)).to.equal(specHash(presets.mnistCnn));
    });

    it("fills defaults, so spelling a default out does not change the hash", () => {
      const explicit = raw(presets.mnistCnn);
      const implicit = raw(presets.mnistCnn);
      delete implicit.layers[0].strides;
      delete implicit.layers[0].padding;
      delete implicit.layers[0].useBias;
      delete implicit.layers[1].strides;
      expect(specHash(parseSpec(implicit))).to.equal(specHash(parseSpec(explicit)));
    });

    it("round-trips and changes hash with any change of content", () => {
      const spec = presets.mnistMlp;
      expect(parseSpec(canonicalSpecJson(spec))).to.deep.equal(spec);
      const other = raw(spec);
      other.watermark.strength = 0.02;
      expect(specHash(parseSpec(other))).to.not.equal(specHash(spec));
      expect(specHash(spec)).to.match(/^0x[0-9a-f]{64}$/);
    });
  });
});
