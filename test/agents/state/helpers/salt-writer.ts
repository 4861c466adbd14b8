// Child process for the SIGKILL test: writes salts one after another and acknowledges each on
// standard output only after putSalt returned, as an agent does before sending a commitment.
// Hardhat's mocha runner loads every .ts under test/, so it only runs as a program.
import { keccak256, toUtf8Bytes } from "ethers";
import { StateStore } from "../../../../agents/state/store.js";

export function saltFor(i: number, kind: string): string {
  return keccak256(toUtf8Bytes(`${kind}:${i}`));
}

if (import.meta.filename === process.argv[1]) {
  const store = StateStore.open(process.argv[2]!);
  for (let i = 0; ; i++) {
    store.putSalt({ taskId: BigInt(i), purpose: "model", commitment: saltFor(i, "c"), salt: saltFor(i, "s"), data: { modelHash: saltFor(i, "m") } });
    process.stdout.write(`${i}\n`);
    // Yield so the acknowledgement is flushed and the parent can kill us mid-stream.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
