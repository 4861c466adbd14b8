import * as tf from "@tensorflow/tfjs";
import type { TaskSpec } from "./spec.js";

/**
 * The spec's learning-rate schedule (`optimizer.decay`: the rate times `factor` every `every`
 * epochs, PyTorch's StepLR). It depends on the global step alone, so a validator replaying any
 * segment from its checkpoint sets the rate the miner trained that step with.
 */
export function learningRateAt(spec: TaskSpec, base: number, epoch: number): number {
  const decay = spec.optimizer.decay;
  return decay === undefined ? base : base * decay.factor ** Math.floor(epoch / decay.every);
}

/** Sets the rate of the optimizer's next steps (SGD keeps it as a tensor; Adam and RMSProp read the field each step). */
export function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // getClassName, not instanceof: tfjs optimizers answer instanceof by duck typing (Adam "is" an SGDOptimizer)
  if (optimizer.getClassName() === "SGD") {
    const sgd = optimizer as tf.SGDOptimizer;
    if ((sgd as unknown as { learningRate: number }).learningRate !== rate) sgd.setLearningRate(rate);
    return;
  }
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}
