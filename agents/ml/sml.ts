import { KeccakStream, smlSeed } from "./seeds.js";

/**
 * PoLe's Secure Mapping Layer: a fixed, non-trainable first layer whose weights come from
 * keccak256(abi.encode(seed, "sml")). Each weight is a k-bit integer q, the stream's next k bits
 * (KeccakStream.nextBits, so 32/k weights per word), centred to q − (2^k − 1)/2 and scaled by 1/√D (D = fan-in), then rounded to float32.
 * A model trained behind one task's SML is useless behind another's (PoLe Table 3).
 */

export type SmlSpec =
  | { kind: "dense"; units: number; bits: number }
  | { kind: "conv"; filters: number; kernelSize: number; bits: number };

/** The SML kernel's shape: dense [D, units] over the flattened input; conv (CSML) [k, k, C, filters]. */
export function smlKernelShape(sml: SmlSpec, inputShape: readonly number[]): number[] {
  if (sml.kind === "dense") return [inputShape.reduce((a, b) => a * b, 1), sml.units];
  const channels = inputShape.length === 3 ? inputShape[2]! : 1;
  return [sml.kernelSize, sml.kernelSize, channels, sml.filters];
}

/** The SML kernel for a task seed, bit-exact everywhere (integer stream, one float32 rounding). */
export function generateSml(seed: string, sml: SmlSpec, inputShape: readonly number[]): { shape: number[]; data: Float32Array } {
  const shape = smlKernelShape(sml, inputShape);
  const size = shape.reduce((a, b) => a * b, 1);
  const fanIn = size / shape[shape.length - 1]!;
  const scale = Math.sqrt(fanIn);
  const centre = (2 ** sml.bits - 1) / 2;
  const stream = new KeccakStream(smlSeed(seed));
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = (stream.nextBits(sml.bits) - centre) / scale;
  return { shape, data };
}

/** Exact match, bit for bit (PoLe: validators regenerate the SML and require equality). */
export function smlMatches(seed: string, sml: SmlSpec, inputShape: readonly number[], kernel: Float32Array): boolean {
  const expected = generateSml(seed, sml, inputShape).data;
  if (kernel.length !== expected.length) return false;
  const a = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const b = new Uint32Array(kernel.buffer.slice(kernel.byteOffset, kernel.byteOffset + kernel.byteLength));
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
