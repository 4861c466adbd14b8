// Seed and check content by hand: `npx tsx scripts/ipfs.ts add <file|folder>` prints the CID,
// `npx tsx scripts/ipfs.ts get <cid> <file>` fetches it. Logic lives in agents/storage/cli.ts.
import { once } from "node:events";
import { runIpfsCommand } from "../agents/storage/cli.js";

process.exitCode = await runIpfsCommand(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stopped: () => Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]).then(() => undefined),
});
