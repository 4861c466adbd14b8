import { keccak256, toUtf8Bytes } from "ethers";

/** A deterministic stream of random bigints from keccak256(label, counter), so failures reproduce. */
export function randomStream(label: string): (bound: bigint) => bigint {
  let counter = 0;
  return (bound: bigint) => {
    const word = BigInt(keccak256(toUtf8Bytes(`${label}:${counter++}`)));
    return word % bound;
  };
}

/** A log-uniform draw in [lo, hi]: inputs spread over many orders of magnitude. */
export function logUniform(next: (bound: bigint) => bigint, lo: bigint, hi: bigint): bigint {
  const lo10 = Math.log10(Number(lo));
  const hi10 = Math.log10(Number(hi));
  const u = Number(next(1_000_000_000n)) / 1e9;
  const x = BigInt(Math.floor(10 ** (lo10 + u * (hi10 - lo10))));
  return x < lo ? lo : x > hi ? hi : x;
}
