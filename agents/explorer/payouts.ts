import type { EventRow } from "./db.js";

/** One credit a settlement handed out, with the role the account played in the task. */
export interface PayoutView {
  account: string;
  token: string;
  amount: string;
  role: "winner" | "ommer" | "miner" | "validator" | "publisher" | "other";
  /** Whether the entry has been claimed into the account's market credit. */
  claimed: boolean;
}

export interface PayoutRoles {
  /** The task's reward token (address(0) = ETH): every entry is paid in it. */
  token: string;
  publisher: string;
  winner?: string | undefined;
  ommers: readonly string[];
  miners: readonly string[];
  validators: readonly string[];
}

/**
 * A task's payouts: the list its settlement posted (`PayoutsPosted(taskId, hash, payouts)`, pull
 * payouts: each entry is credited to its account when someone claims it), with the role each
 * account played and whether its entry has been claimed (`PayoutClaimed`). This is the one place
 * that knows how payouts appear on the chain.
 */
export function payoutsOf(events: readonly EventRow[], roles: PayoutRoles): PayoutView[] {
  const roleOf = (account: string): PayoutView["role"] => {
    if (account === roles.winner) return "winner";
    if (roles.ommers.includes(account)) return "ommer";
    if (roles.validators.includes(account)) return "validator";
    if (account === roles.publisher) return "publisher";
    if (roles.miners.includes(account)) return "miner";
    return "other";
  };
  const posted = events.find((e) => e.contract === "market" && e.name === "PayoutsPosted");
  if (posted === undefined) return [];
  const claimed = new Set(events.filter((e) => e.contract === "market" && e.name === "PayoutClaimed").map((e) => Number(e.args.index)));
  const list = posted.args.payouts as { account: string; amount: string }[];
  return list.map((p, index) => ({ account: String(p.account), token: roles.token, amount: String(p.amount), role: roleOf(String(p.account)), claimed: claimed.has(index) }));
}
