import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/**
 * MaxPoolGrad for the wasm backend. The package's own kernel (4.22, built on its pool3d code)
 * returns wrong gradients as soon as the batch or the channel count exceeds one: for a batch of
 * two it leaves the second example's gradient at zero, and with two channels it drops some of
 * the first channel's. A CNN with max pooling still trains on it, but not on the gradient it
 * should (test/agents/ml/wasm-conv-grads.test.ts compares this kernel with cpu's).
 *
 * This kernel follows the cpu backend's definition exactly: each output's gradient goes to the
 * first largest input of its window (strictly greater wins, scanning rows then columns), and
 * gradients that land on one input are summed in the order cpu sums them. It reads and writes
 * the wasm heap directly; pooling is a few operations per element, so plain JavaScript costs
 * little beside the convolutions around it.
 */

type MaxPoolGradAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/** Replaces the package's MaxPoolGrad on wasm; calling it again changes nothing. */
export function registerWasmMaxPoolGrad(): void {
  const current = tf.getKernel(tf.MaxPoolGrad, "wasm");
  if (current?.kernelFunc === (maxPoolGrad as unknown as KernelFunc)) return;
  if (current !== undefined) tf.unregisterKernel(tf.MaxPoolGrad, "wasm");
  const config: KernelConfig = { kernelName: tf.MaxPoolGrad, backendName: "wasm", kernelFunc: maxPoolGrad as unknown as KernelFunc };
  tf.registerKernel(config);
}

function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo }; backend: BackendWasm; attrs: MaxPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const dx = backend.makeOutput(input.shape, "float32");
  // Views after the last allocation: growing the heap would detach them.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  out.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  // Windows in dy order (rows, columns, channels): cpu adds the dy values that share an input in
  // that order, so the sums match bit for bit.
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * channels;
    for (let r = 0; r < outHeight; r++) {
      const r0 = r * strideHeight - top;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(inHeight, r0 + fh);
      for (let c = 0; c < outWidth; c++) {
        const c0 = c * strideWidth - left;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(inWidth, c0 + fw);
        const dyBase = ((b * outHeight + r) * outWidth + c) * channels;
        for (let d = 0; d < channels; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let xr = rMin; xr < rMax; xr++) {
            for (let xc = cMin; xc < cMax; xc++) {
              const i = xBase + (xr * inWidth + xc) * channels + d;
              if (x[i]! > best) {
                best = x[i]!;
                at = i;
              }
            }
          }
          if (at >= 0) out[at]! += g[dyBase + d]!;
        }
      }
    }
  }
  return dx;
}
