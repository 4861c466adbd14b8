import { readFile } from "node:fs/promises";
import { multiaddr } from "@multiformats/multiaddr";
import { writeDeployment, type DeploymentRecord } from "./deployment.js";

/**
 * The address book's `bootstrap` list: IPFS nodes (multiaddrs ending in /p2p/<peer id>) that every
 * agent's node dials at start to join the others; from there the DHT finds who holds what.
 */

/** `PODL_IPFS_BOOTSTRAP` as given to the deploy script: comma-separated multiaddrs, each checked. */
export function parseBootstrap(value: string | undefined): string[] {
  const list = (value ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
  for (const address of list) {
    let ok = false;
    try {
      ok = multiaddr(address).getComponents().some((c) => c.name === "p2p");
    } catch {
      ok = false; // not a multiaddr at all: the message below says what one looks like
    }
    if (!ok) throw new Error(`PODL_IPFS_BOOTSTRAP: ${JSON.stringify(address)} is not a multiaddr with a peer id, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…`);
  }
  return list;
}

/** Writes `addresses` into the address book `file` as its bootstrap list (the local demo names the publisher's node). */
export async function nameBootstrapPeers(file: string, addresses: readonly string[]): Promise<void> {
  const record = JSON.parse(await readFile(file, "utf8")) as DeploymentRecord;
  await writeDeployment(file, { ...record, bootstrap: [...addresses] });
}
