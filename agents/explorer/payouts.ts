import type { EventRow } from "./db.js";

/** One credit a settlement handed out, with the role the account played in the task. */
export interface PayoutView {
  account: string;
  token: string;
  amount: string;
  role: "winner" | "ommer" | "miner" | "validator" | "publisher" | "other";
}

export interface PayoutRoles {
  publisher: string;
  winner?: string | undefined;
  ommers: readonly string[];
  miners: readonly string[];
  validators: readonly string[];
}

/**
 * A task's payouts: the `Credited` events of the transaction that emitted its `TaskSettled`
 * (settlement credits the pool in that transaction). This is the one place that knows how payouts
 * appear on the chain: when settlement moves to posted payouts (`PayoutsPosted(taskId, hash,
 * payouts)`), read them from that event here instead.
 */
export function payoutsOf(settleTx: readonly EventRow[], roles: PayoutRoles): PayoutView[] {
  const roleOf = (account: string): PayoutView["role"] => {
    if (account === roles.winner) return "winner";
    if (roles.ommers.includes(account)) return "ommer";
    if (roles.validators.includes(account)) return "validator";
    if (account === roles.publisher) return "publisher";
    if (roles.miners.includes(account)) return "miner";
    return "other";
  };
  return settleTx
    .filter((e) => e.contract === "market" && e.name === "Credited")
    .map((e) => ({ account: String(e.args.account), token: String(e.args.token), amount: String(e.args.amount), role: roleOf(String(e.args.account)) }));
}
