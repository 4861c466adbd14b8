import assert from "node:assert/strict";

/**
 * |actual − expected| ≤ tolerance for plain numbers. Chai's closeTo cannot be used here: the Hardhat
 * chai matchers replace it with a bigint version that rejects fractional tolerances.
 */
export function expectClose(actual: number | undefined, expected: number, tolerance: number, what = "value"): void {
  assert.ok(actual !== undefined && Number.isFinite(actual), `${what}: expected a finite number, got ${actual}`);
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${actual} to be within ${tolerance} of ${expected}`,
  );
}
