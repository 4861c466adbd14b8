import * as tf from "@tensorflow/tfjs";

/**
 * Adam's bias-correction powers after a restore, exactly as training holds them (issue 13).
 *
 * TensorFlow.js keeps β₁ᵗ⁺¹ and β₂ᵗ⁺¹ in float32 variables that training multiplies by β once per
 * step, but `AdamOptimizer.setWeights` recomputes them with `pow`. The two differ in the last bits,
 * so a replay from a checkpoint started from a slightly different learning-rate correction than the
 * miner's run, and the MNIST CNN's training grew that to normalised distances up to 3.7e-2 in 50
 * steps (past the 1e-3 tolerance: an honest demo miner failed replay). Restoring the product instead
 * makes a same-backend replay bit-exact (docs/ml.md, "Replay").
 */

/** β^(iterations+1) as training accumulates it: fround(β), multiplied by fround(β) once per step, each product rounded to float32. */
export function trainedPower(beta: number, iterations: number): number {
  const b = Math.fround(beta);
  let power = b;
  // A float32 product of two float32 values is exact in a double, so one fround rounds it as the backend does.
  for (let k = 0; k < iterations; k++) power = Math.fround(power * b);
  return power;
}

type AdamInternals = { beta1: number; beta2: number; accBeta1: tf.Variable; accBeta2: tf.Variable };

/** After `optimizer.setWeights` at `iterations` steps: Adam's powers as training had them (other optimizers hold none). */
export function restoreAdamPowers(optimizer: tf.Optimizer, iterations: number): void {
  // Not `instanceof`: tfjs optimizers answer it by duck typing, so an SGD optimizer "is" an AdamOptimizer.
  if (optimizer.getClassName() !== "Adam") return;
  const adam = optimizer as unknown as AdamInternals;
  tf.tidy(() => {
    adam.accBeta1.assign(tf.scalar(trainedPower(adam.beta1, iterations)));
    adam.accBeta2.assign(tf.scalar(trainedPower(adam.beta2, iterations)));
  });
}
