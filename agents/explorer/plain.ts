import { Result } from "ethers";

/** An ethers Result (structs, arrays) as plain JSON: named structs as objects, bigints as decimal strings. */
export function plain(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Result) {
    let keys: string[] = [];
    try {
      keys = Object.keys(value.toObject());
    } catch {
      keys = []; // an array: its entries have no names
    }
    if (keys.length > 0 && !keys.every((k) => /^_\d+$/.test(k))) return Object.fromEntries(keys.map((k) => [k, plain(value.getValue(k))]));
    return [...value].map(plain);
  }
  if (Array.isArray(value)) return value.map(plain);
  return value;
}
