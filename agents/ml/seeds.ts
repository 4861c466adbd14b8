import { keccak_256 } from "@noble/hashes/sha3.js";
import { AbiCoder, getBytes, keccak256 } from "ethers";

/**
 * Seed derivation and the keccak counter-mode stream every seeded part draws from.
 * All encodings are Solidity `abi.encode`, so a contract or a second engine can recompute them.
 */

const abi = AbiCoder.defaultAbiCoder();

/** keccak256(abi.encode(bytes32 seed, address miner)): seeded initialisation and watermark. */
export function initSeed(seed: string, miner: string): string {
  return keccak256(abi.encode(["bytes32", "address"], [seed, miner]));
}

/** keccak256(abi.encode(bytes32 seed, address miner, uint256 epoch)): mini-batch order. */
export function orderSeed(seed: string, miner: string, epoch: number): string {
  return keccak256(abi.encode(["bytes32", "address", "uint256"], [seed, miner, BigInt(epoch)]));
}

/** keccak256(abi.encode(bytes32 seed, address miner, uint256 step, string "augment")): one step's shifts (augment.ts). */
export function augmentSeed(seed: string, miner: string, step: number): string {
  return keccak256(abi.encode(["bytes32", "address", "uint256", "string"], [seed, miner, BigInt(step), "augment"]));
}

/** keccak256(abi.encode(bytes32 seed, string "sml")): the task's Secure Mapping Layer. */
export function smlSeed(seed: string): string {
  return keccak256(abi.encode(["bytes32", "string"], [seed, "sml"]));
}

/** keccak256(abi.encode(bytes32 key, string label)): an independent sub-stream per tensor or purpose. */
export function subSeed(key: string, label: string): string {
  return keccak256(abi.encode(["bytes32", "string"], [key, label]));
}

/**
 * Counter-mode keccak: block j = keccak256(abi.encode(bytes32 key, uint256 j)), read as eight
 * big-endian uint32 words. Pure integer arithmetic, so identical on every platform.
 */
export class KeccakStream {
  readonly #input = new Uint8Array(64);
  readonly #view = new DataView(this.#input.buffer);
  #counter = 0;
  #words = new Uint32Array(8);
  #next = 8;
  #word = 0;
  #bitsLeft = 0;

  constructor(key: string) {
    this.#input.set(getBytes(key), 0);
  }

  /** The next uniform uint32. */
  nextUint32(): number {
    if (this.#next === 8) this.#refill();
    return this.#words[this.#next++]!;
  }

  /**
   * The next `k` bits (1 ≤ k ≤ 32) as an unsigned integer: the stream read as one big-endian bit
   * string, each word most significant bit first, so a k-bit draw costs k bits, not a word. Uniform
   * without rejection. Whole words are taken with nextUint32; don't interleave the two on a stream.
   */
  nextBits(k: number): number {
    let out = 0;
    for (let need = k; need > 0; ) {
      if (this.#bitsLeft === 0) {
        this.#word = this.nextUint32();
        this.#bitsLeft = 32;
      }
      const take = Math.min(need, this.#bitsLeft);
      const chunk = Math.floor(this.#word / 2 ** (this.#bitsLeft - take)) % 2 ** take;
      out = out * 2 ** take + chunk;
      this.#bitsLeft -= take;
      need -= take;
    }
    return out;
  }

  /** A uniform float in [0, 1) with 24 random bits, exactly representable as float32. */
  nextUnit(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** A uniform integer in [0, bound) by rejection, so without modulo bias. bound ≤ 2^32. */
  nextBelow(bound: number): number {
    const limit = 4294967296 - (4294967296 % bound);
    for (;;) {
      const v = this.nextUint32();
      if (v < limit) return v % bound;
    }
  }

  #refill(): void {
    // uint256 counter, big-endian, in the last 8 of its 32 bytes (the rest stay zero).
    this.#view.setUint32(56, Math.floor(this.#counter / 4294967296));
    this.#view.setUint32(60, this.#counter >>> 0);
    this.#counter++;
    const digest = keccak_256(this.#input);
    const block = new DataView(digest.buffer, digest.byteOffset, 32);
    for (let k = 0; k < 8; k++) this.#words[k] = block.getUint32(4 * k);
    this.#next = 0;
  }
}

