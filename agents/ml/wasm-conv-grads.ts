import * as tf from "@tensorflow/tfjs";
import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";

/**
 * Convolution gradients for the wasm backend as forward convolutions, which the wasm backend runs
 * in XNNPACK.
 *
 * Conv2DBackpropFilter: @tensorflow/tfjs-backend-wasm 4.22 lacks it (it has Conv2DBackpropInput,
 * MaxPoolGrad and AvgPoolGrad), so without it a CNN cannot train on wasm.
 *
 *   dW[kh, kw, c, o] = Σ_{n, i, j} x[n, i·s + kh − top, j·s + kw − left, c] · dy[n, i, j, o]
 *
 * is one convolution: x laid out as [C, H, W, N] (the input channels as the batch, the batch as
 * the channels) convolved with dy laid out as [OH, OW, N, O] as its filter, dilated by the forward stride,
 * stride 1, under the forward padding; its output [C, KH', KW', O] holds dW transposed, where KH'
 * exceeds KH only when a "valid" stride leaves rows of x unread (sliced off). TensorFlow.js's
 * conv2d gradient requires dilations of 1, so the forward dilation never appears here. Both data
 * formats are handled by the transposes (the wasm forward convolution itself takes NHWC only).
 *
 * Conv2DBackpropInput: the package's own kernel is a plain C++ loop, two to three times slower
 * than the forward convolution of the same size here. At stride 1 (NHWC) it is replaced by
 *
 *   dx[n, h, w, c] = Σ_{kh, kw, o} dy[n, h + top − kh, w + left − kw, o] · W[kh, kw, c, o],
 *
 * the convolution of dy with W flipped in both spatial axes and its channel axes swapped, padded
 * by KH − 1 − top above and KH − 1 − bottom below (likewise in width). Strides above 1, NCHW and
 * explicit paddings wider than the kernel go to the package's kernel unchanged.
 *
 * Sums run in XNNPACK's order, not the cpu backend's: gradients agree with cpu to float rounding
 * (test/agents/ml/wasm-conv-grads.test.ts), and are bit-identical from run to run on wasm.
 */

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
};

type Conv2DBackpropInputAttrs = Omit<Conv2DBackpropFilterAttrs, "filterShape"> & { inputShape: [number, number, number, number] };

let packageBackpropInput: KernelConfig | undefined;

/**
 * Registers both kernels on the wasm backend; calling it again changes nothing. The replacement
 * keeps the package kernel's set-up function, which the fallback needs when the backend
 * initialises after this call.
 */
export function registerWasmConvGrads(): void {
  if (tf.getKernel(tf.Conv2DBackpropFilter, "wasm") === undefined) {
    tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: "wasm", kernelFunc: conv2DBackpropFilter as unknown as KernelFunc });
  }
  const current = tf.getKernel(tf.Conv2DBackpropInput, "wasm");
  if (current !== undefined && current.kernelFunc !== (conv2DBackpropInput as unknown as KernelFunc)) {
    packageBackpropInput = current;
    tf.unregisterKernel(tf.Conv2DBackpropInput, "wasm");
    tf.registerKernel({ ...current, kernelFunc: conv2DBackpropInput as unknown as KernelFunc });
  }
}

function conv2DBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: KernelBackend; attrs: Conv2DBackpropInputAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
  const { top, bottom, left, right } = info.padInfo;
  const { filterHeight: kh, filterWidth: kw } = info;
  const direct =
    info.dataFormat === "channelsLast" &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    Math.max(top, bottom) < kh &&
    Math.max(left, right) < kw;
  if (!direct) {
    if (packageBackpropInput === undefined) throw new Error("the wasm backend has no Conv2DBackpropInput kernel");
    return packageBackpropInput.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  }
  const flipped = run("Reverse", { x: filter }, backend, { dims: [0, 1] });
  try {
    const swapped = run("Transpose", { x: flipped }, backend, { perm: [0, 1, 3, 2] });
    try {
      return run("Conv2D", { x: dy, filter: swapped }, backend, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [kh - 1 - top, kh - 1 - bottom], [kw - 1 - left, kw - 1 - right], [0, 0]],
        dataFormat: "NHWC",
      });
    } finally {
      backend.disposeData(swapped.dataId);
    }
  } finally {
    backend.disposeData(flipped.dataId);
  }
}

function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: KernelBackend; attrs: Conv2DBackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
  const nchw = info.dataFormat === "channelsFirst";
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => (temps.push(t), t);
  try {
    // x → [C, H, W, N]; dy → [OH, OW, N, O].
    const xT = keep(run("Transpose", { x }, backend, { perm: nchw ? [1, 2, 3, 0] : [3, 1, 2, 0] }));
    const dyT = keep(run("Transpose", { x: dy }, backend, { perm: nchw ? [2, 3, 0, 1] : [1, 2, 0, 3] }));
    const { top, bottom, left, right } = info.padInfo;
    const conv = keep(
      run("Conv2D", { x: xT, filter: dyT }, backend, {
        strides: [1, 1],
        dilations: [info.strideHeight, info.strideWidth],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: "NHWC",
      }),
    );
    const { filterHeight: kh, filterWidth: kw, inChannels: c, outChannels: o } = info;
    const fits = conv.shape[1] === kh && conv.shape[2] === kw;
    const cropped = fits ? conv : keep(run("Slice", { x: conv }, backend, { begin: [0, 0, 0, 0], size: [c, kh, kw, o] }));
    return run("Transpose", { x: cropped }, backend, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** Runs another wasm kernel directly (no engine bookkeeping); the caller disposes its output. */
function run(kernelName: string, inputs: Record<string, TensorInfo>, backend: KernelBackend, attrs: object): TensorInfo {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (kernel === undefined) throw new Error(`the wasm backend has no ${kernelName} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap }) as TensorInfo;
}
