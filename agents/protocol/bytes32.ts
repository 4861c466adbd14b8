import { ProtocolError } from "./errors.js";

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/** Checks a 0x-prefixed 32-byte hex string (seeds, roots, hashes, salts, keys). */
export function assertBytes32(value: string, what: string): string {
  if (!BYTES32.test(value)) {
    throw new ProtocolError("BYTES32_INVALID", `${what} must be 0x followed by 64 hex digits, got ${JSON.stringify(value)}`);
  }
  return value;
}
