import { countModel, type TaskSpec } from "../ml/spec.js";

/**
 * Declared workload for the ranking (DLBC's dn and dc): the model as float32 weights, the
 * ciphertexts, and training FLOPs = 3 × forward FLOPs (forward + backward) × training examples ×
 * the spec's maximum epochs.
 */
export function declaredWorkload(spec: TaskSpec, trainExamples: number, ciphertextBytes: number): { modelBytes: bigint; dataBytes: bigint; flops: bigint } {
  const { params, flops } = countModel(spec);
  return {
    modelBytes: BigInt(params * 4),
    dataBytes: BigInt(ciphertextBytes),
    flops: 3n * BigInt(flops) * BigInt(trainExamples) * BigInt(spec.epochs.max),
  };
}
