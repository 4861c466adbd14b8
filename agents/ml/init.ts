import { initSeed, KeccakStream, subSeed } from "./seeds.js";

/**
 * Seeded initialisation (D-PoDL's HtoA), computed in JavaScript as float32 so it is bit-exact on
 * every backend: no TensorFlow.js random op is involved. Each tensor draws from its own stream,
 * keyed keccak256(abi.encode(keccak256(abi.encode(seed, miner)), name)):
 *  - kernels: Glorot uniform, w = fround((2u − 1) · √(6 / (fanIn + fanOut))), u a 24-bit uniform;
 *  - batch-norm gamma and moving variance: 1; biases, beta and moving mean: 0.
 */

export type LayoutEntry = { name: string; shape: number[]; trainable: boolean };
export type NamedTensors = Map<string, { shape: number[]; data: Float32Array }>;

const ONES = /(gamma|[vV]ariance)$/;

/** fanIn and fanOut as Keras computes them: [in, out] or [k..., in, out]. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) return { fanIn: shape[0] ?? 1, fanOut: shape[0] ?? 1 };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: receptive * shape[shape.length - 2]!, fanOut: receptive * shape[shape.length - 1]! };
}

export function glorotUniform(key: string, shape: readonly number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const { fanIn, fanOut } = fans(shape);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const stream = new KeccakStream(key);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = (2 * stream.nextUnit() - 1) * limit;
  return data;
}

/**
 * The initial value of every tensor in `layout` except those named in `skip` (the SML, which comes
 * from the task seed instead of the miner's).
 */
export function initialWeights(seed: string, miner: string, layout: readonly LayoutEntry[], skip: ReadonlySet<string> = new Set()): NamedTensors {
  const key = initSeed(seed, miner);
  const out: NamedTensors = new Map();
  for (const { name, shape } of layout) {
    if (skip.has(name)) continue;
    const size = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name.endsWith("kernel")) data = glorotUniform(subSeed(key, name), shape);
    else if (ONES.test(name)) data = new Float32Array(size).fill(1);
    else data = new Float32Array(size);
    out.set(name, { shape: [...shape], data });
  }
  return out;
}
