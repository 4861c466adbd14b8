import { Interface, isError, type ErrorDescription } from "ethers";

export interface DecodedRevert {
  /** `ErrorName(arg, …)`, `Error("reason")`, `Panic(0x11)` or `unknown revert 0x…`. */
  summary: string;
  name?: string;
  args?: readonly unknown[];
  data?: string;
}

/** Revert data that ethers found in an error (estimateGas, call, a mined receipt's replay). */
export function revertData(e: unknown): string | undefined {
  if (isError(e, "CALL_EXCEPTION") && typeof e.data === "string" && e.data !== "0x") return e.data;
  return undefined;
}

/**
 * Revert data in a node's answer to eth_sendRawTransaction. Hardhat (automine) mines a failing
 * transaction and answers with JSON-RPC error 3 and its revert data, which ethers cannot classify
 * ("could not coalesce error") and keeps in `error`. A revert without data ("0x": out of gas, a
 * reason-less require; seen at 50 % loss when a keeper's draw went out with a gas estimate made
 * before the draw's randomness arrived) is a revert too, not an unexpected error.
 */
export function broadcastRevertData(e: unknown): string | undefined {
  type Answer = { code?: unknown; data?: unknown };
  const answer = (e as { error?: Answer } | null)?.error ?? (e as { info?: { error?: Answer } } | null)?.info?.error;
  if (answer?.code === 3 && typeof answer.data === "string") return answer.data;
  return undefined;
}

/**
 * Decodes revert data against the ABIs that may have raised it: the called contract first, then
 * contracts it calls into (whose custom errors bubble up unchanged).
 */
export function decodeRevert(data: string | undefined, interfaces: readonly Interface[]): DecodedRevert {
  if (data === undefined || data === "0x") return { summary: "reverted without data" };
  for (const iface of [...interfaces, BUILTIN]) {
    let parsed: ErrorDescription | null = null;
    try {
      parsed = iface.parseError(data);
    } catch {
      parsed = null; // the selector matched but the arguments did not decode: try the next ABI
    }
    if (parsed) {
      const args = parsed.args.toArray();
      return { summary: `${parsed.name}(${args.map(show).join(", ")})`, name: parsed.name, args, data };
    }
  }
  return { summary: `unknown revert ${data.slice(0, 10)}`, data };
}

const BUILTIN = new Interface(["error Error(string reason)", "error Panic(uint256 code)"]);

function show(v: unknown): string {
  if (typeof v === "string") return /^0x[0-9a-fA-F]*$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  return String(v);
}
