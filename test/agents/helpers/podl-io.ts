import { main } from "../../../agents/cli/podl.js";
import type { CommandIO } from "../../../agents/cli/command.js";

/** Runs `podl argv` in-process and collects what it prints. */
export async function podl(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (l) => void out.push(l), err: (l) => void err.push(l), env };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
