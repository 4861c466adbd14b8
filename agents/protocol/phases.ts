/** `ITaskMarket.Phase` as the contract numbers it: the one copy in TypeScript. */
export const PHASE = { None: 0n, Queued: 1n, Started: 2n, Committing: 3n, Revealing: 4n, Attesting: 5n, Settled: 6n, Cancelled: 7n, Defaulted: 8n, Unvalidated: 9n } as const;

/** The phases by number, as the agents and reports print them. */
export const PHASE_NAMES = ["none", "queued", "started", "committing", "revealing", "attesting", "settled", "cancelled", "defaulted", "unvalidated"] as const;

export type PhaseName = (typeof PHASE_NAMES)[number];

/** Phases a task never leaves. */
export const TERMINAL_PHASES: ReadonlySet<bigint> = new Set([PHASE.Settled, PHASE.Cancelled, PHASE.Defaulted, PHASE.Unvalidated]);

/** The same, by name. */
export const TERMINAL_PHASE_NAMES: ReadonlySet<string> = new Set([...TERMINAL_PHASES].map((p) => PHASE_NAMES[Number(p)]!));
