import type { StopReason, StopRule } from "./engine.js";
import type { NamedTensors } from "./init.js";

/** The defaults of a StopRule's optional timing fields. */
export const STOP_DEFAULTS = { epochWindow: 3, safety: 1.5 } as const;

export type StopDecision = { stop: false } | { stop: true; reason: StopReason };
export type WatermarkCheck = (weights: NamedTensors) => { detected: boolean; matches: number; bits: number };

/**
 * The StopRule (engine.ts) as a decision after each epoch, shared by every engine. Call `start()`
 * when training starts, then `afterEpoch(trained, weights)` after each epoch but the last allowed:
 * it times the epoch itself (the watermark read is not counted), and reads `weights()` only when
 * the watermark decides. `onUnembedded` hears each epoch at or past `rule.epochs` that continues
 * because the watermark does not read yet.
 */
export function createStopper(rule: StopRule, readWatermark?: WatermarkCheck, onUnembedded?: (e: { epochs: number; matches: number; bits: number }) => void) {
  if (rule.untilWatermark && readWatermark === undefined) throw new RangeError("stop rule untilWatermark needs a watermark reader");
  const window = rule.epochWindow ?? STOP_DEFAULTS.epochWindow;
  const safety = rule.safety ?? STOP_DEFAULTS.safety;
  const epochMs: number[] = [];
  let last = 0;
  return {
    start(now = performance.now()): void {
      last = now;
    },
    async afterEpoch(trained: number, weights: () => Promise<NamedTensors>): Promise<StopDecision> {
      const now = performance.now();
      epochMs.push(now - last);
      last = now;
      const fits = rule.deadline === undefined || Date.now() + Math.max(...epochMs.slice(-window)) * safety <= rule.deadline;
      if (trained < rule.epochs && fits) return { stop: false };
      if (!fits) return { stop: true, reason: "deadline" };
      if (!rule.untilWatermark) return { stop: true, reason: "epochs.max" };
      const reading = readWatermark!(await weights());
      last = performance.now();
      if (reading.detected) return { stop: true, reason: "epochs.max" };
      onUnembedded?.({ epochs: trained, matches: reading.matches, bits: reading.bits });
      return { stop: false };
    },
  };
}
