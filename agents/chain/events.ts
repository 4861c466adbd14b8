import { getAddress, type Interface, type Log, type Result } from "ethers";
import { eventId } from "./cursor.js";

export interface DecodedEvent {
  /** Event name as in the ABI: "TaskPosted". */
  name: string;
  args: Result;
  /** Checksummed address of the emitting contract. */
  address: string;
  blockNumber: number;
  transactionHash: string;
  /** `txHash:logIndex`, the id the cursor de-duplicates on. */
  id: string;
  log: Log;
}

/**
 * Decodes logs of the contracts an agent follows (one cursor may follow the market, the
 * registry and the settlement module at once) with each contract's own ABI.
 */
export class EventDecoder {
  #byAddress = new Map<string, Interface>();

  constructor(contracts: readonly { address: string; iface: Interface }[] = []) {
    for (const c of contracts) this.add(c.address, c.iface);
  }

  add(address: string, iface: Interface): this {
    this.#byAddress.set(getAddress(address), iface);
    return this;
  }

  /** Addresses to give the cursor. */
  get addresses(): string[] {
    return [...this.#byAddress.keys()];
  }

  /** The decoded event, or undefined for a log of another contract or an event not in its ABI. */
  decode(log: Log): DecodedEvent | undefined {
    const address = getAddress(log.address);
    const parsed = this.#byAddress.get(address)?.parseLog({ topics: [...log.topics], data: log.data });
    if (!parsed) return undefined;
    return { name: parsed.name, args: parsed.args, address, blockNumber: log.blockNumber, transactionHash: log.transactionHash, id: eventId(log), log };
  }
}
