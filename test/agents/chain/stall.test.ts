import { expect } from "chai";
import { StallWatch } from "../../../agents/chain/stall.js";
import { deployOverrides } from "../../../devnet/deploy-params.js";
import { localWindows } from "../../../devnet/deployment.js";

describe("agents/chain StallWatch", function () {
  it("warns once when the head has not moved for longer than the threshold, and says when blocks come again", async () => {
    let head = 7;
    let now = 0;
    const lines: { level: string; msg: string }[] = [];
    const log = { warn: (_: object, msg: string) => void lines.push({ level: "warn", msg }), info: (_: object, msg: string) => void lines.push({ level: "info", msg }) };
    const watch = new StallWatch({ source: { getBlockNumber: async () => head }, chainId: 31337n, log: log as never, thresholdSeconds: 30, now: () => now });
    expect(await watch.check()).to.equal(false);
    now = 29_000;
    expect(await watch.check()).to.equal(false);
    now = 31_000;
    expect(await watch.check()).to.equal(true);
    now = 60_000;
    expect(await watch.check()).to.equal(true);
    expect(lines).to.have.length(1);
    expect(lines[0]!.level).to.equal("warn");
    expect(lines[0]!.msg).to.contain("chain 31337 has produced no block for 31 s (head #7)").and.contain("evm_setIntervalMining");
    head = 8;
    expect(await watch.check()).to.equal(false);
    expect(lines[1]).to.deep.equal({ level: "info", msg: "chain 31337 produces blocks again (head #8)" });
  });
});

describe("scripts/deploy parameters by chain", function () {
  it("uses the local windows on a local chain id unless PODL_DEPLOY_PARAMS says otherwise, the defaults elsewhere", async () => {
    expect((await deployOverrides(31337n, undefined)).overrides).to.equal(localWindows);
    expect((await deployOverrides(1337n, "")).overrides).to.equal(localWindows);
    expect((await deployOverrides(31337n, "default")).overrides).to.deep.equal({});
    expect((await deployOverrides(31337n, '{"market":{"keyWindow":45}}')).overrides).to.deep.equal({ market: { keyWindow: 45 } });
    expect((await deployOverrides(11155111n, undefined)).overrides).to.deep.equal({});
    expect((await deployOverrides(11155111n, "local")).overrides).to.equal(localWindows);
  });
});
