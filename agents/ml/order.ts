import { KeccakStream, orderSeed } from "./seeds.js";

/**
 * The mini-batch order of one epoch: a Fisher–Yates shuffle of [0, n) driven by the keccak stream
 * keyed with keccak256(abi.encode(seed, miner, epoch)), so any validator can replay a segment.
 */
export function epochPermutation(seed: string, miner: string, epoch: number, n: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const stream = new KeccakStream(orderSeed(seed, miner, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = stream.nextBelow(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

/** Steps per epoch: the last batch may be short, none is dropped. */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}

/** The sample indices of global step `step` (0-based), given a permutation cache per epoch. */
export function batchIndices(seed: string, miner: string, n: number, batchSize: number, step: number, cache?: Map<number, Uint32Array>): Uint32Array {
  const perEpoch = stepsPerEpoch(n, batchSize);
  const epoch = Math.floor(step / perEpoch);
  let perm = cache?.get(epoch);
  if (perm === undefined) {
    perm = epochPermutation(seed, miner, epoch, n);
    cache?.set(epoch, perm);
  }
  const start = (step % perEpoch) * batchSize;
  return perm.subarray(start, Math.min(start + batchSize, n));
}
