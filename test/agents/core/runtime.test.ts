import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Contract, Transaction, Wallet, keccak256 } from "ethers";
import { openRuntime } from "../../../agents/core/runtime.js";
import { loadConfig } from "../../../agents/config/load.js";
import { agentConfigSchema } from "../../../agents/config/schema.js";
import { StateStore } from "../../../agents/state/store.js";
import { account, deployToken, startChain } from "../helpers/chain.js";
import { captureLogger } from "../helpers/log.js";

describe("agents/cli openRuntime", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  let token: Contract;
  let dir: string;
  before(async () => {
    chain = await startChain();
    const deployed = await deployToken(chain.provider, account(0));
    token = new Contract(await deployed.getAddress(), deployed.interface, chain.provider);
  });
  after(async () => chain.close());
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "podl-runtime-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("wires key, chain, state, sender and cursors, and settles the previous run's journal on start", async () => {
    const wallet = account(11);
    const env = { PODL_RPC_URL: chain.url, PODL_DATA_DIR: dir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: wallet.privateKey };
    const config = loadConfig(agentConfigSchema, { env });
    const startBlock = (await chain.provider.getBlockNumber()) + 1;
    const filter = { address: await token.getAddress(), startBlock };

    // A previous run died after journalling a signed transaction and before broadcasting it.
    const recipient = Wallet.createRandom().address;
    const fees = await chain.provider.getFeeData();
    const nonce = await chain.provider.getTransactionCount(wallet.address);
    const raw = await wallet.signTransaction(
      Transaction.from({
        type: 2,
        chainId: 31337n,
        nonce,
        to: filter.address,
        data: token.interface.encodeFunctionData("mint", [recipient, 1n]),
        gasLimit: 100_000n,
        maxFeePerGas: fees.maxFeePerGas!,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas!,
      }),
    );
    const previous = StateStore.open(join(dir, "miner-1.sqlite"));
    previous.recordTx({ hash: keccak256(raw), raw, from: wallet.address, nonce, label: "mint 1" });
    previous.close();

    const logs = captureLogger("miner-1");
    const runtime = await openRuntime({ agent: "miner-1", config, env, log: logs.log });
    expect(runtime.chain.confirmations).to.equal(0);
    expect(runtime.wallet.address).to.equal(wallet.address);
    expect(runtime.store.txStatus(keccak256(raw))).to.equal("mined");
    expect(logs.lines().map((l) => l.msg)).to.include("settled a transaction from the previous run");

    await runtime.sender.call(token, "mint", [recipient, 2n], { label: "mint 2" });
    const seen: bigint[] = [];
    await runtime.cursor("token", filter).poll((log) => void seen.push(BigInt(log.data)));
    expect(seen).to.deep.equal([1n, 2n]);
    expect(logs.text()).to.not.contain(wallet.privateKey.slice(2));
    runtime.close();

    const again = await openRuntime({ agent: "miner-1", config, env, log: captureLogger().log });
    expect((await again.cursor("token", filter).poll(() => expect.fail("handled twice"))).handled).to.equal(0);
    again.close();
    expect(existsSync(join(dir, "miner-1.sqlite"))).to.equal(true);
  });
});
