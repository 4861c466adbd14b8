import type { Provider } from "ethers";

/**
 * Time as the agents see it. Deadlines are the chain's: the contracts compare them with block
 * timestamps, so agents read the chain's time, never their own; the wall clock serves only this
 * process's own waits (a keeper's grace period).
 */
export interface Clock {
  /** The latest block's timestamp, seconds. */
  chainNow(): Promise<bigint>;
  /**
   * The earliest timestamp a transaction sent now can land with: after the latest block, and not
   * before the wall clock (a node that mines on demand leaves the latest block's time behind).
   */
  nextTimestamp(): Promise<bigint>;
  /** This process's wall clock, milliseconds. */
  wallMs(): number;
}

/** The one clock of an agent, reading `provider`'s latest block. */
export function chainClock(provider: Provider): Clock {
  const chainNow = async () => BigInt((await provider.getBlock("latest"))!.timestamp);
  return {
    chainNow,
    nextTimestamp: async () => {
      const latest = await chainNow();
      const wall = BigInt(Math.floor(Date.now() / 1000));
      return latest + 1n > wall ? latest + 1n : wall;
    },
    wallMs: () => Date.now(),
  };
}
