import { expect } from "chai";
import { broadcastRevertData, decodeRevert } from "../../agents/chain/revert.js";

/**
 * At 50 % loss (bench:faults) a validator crashed with "podl: unexpected error: could not coalesce
 * error" when Hardhat's automine answered its drawCommittee broadcast with a revert that carried no
 * data. The node's answer, as ethers wraps it, must read as a revert (the keeper then logs it and
 * tries again next step), with or without data.
 */
describe("faults: a revert answered to a broadcast", () => {
  const answer = (data: string) => ({ code: "UNKNOWN_ERROR", error: { code: 3, data, message: "Transaction reverted without a reason string" } });

  it("without data ('0x', an out-of-gas or reason-less revert) is a revert, decoded as 'reverted without data'", () => {
    expect(broadcastRevertData(answer("0x"))).to.equal("0x");
    expect(decodeRevert(broadcastRevertData(answer("0x")), []).summary).to.equal("reverted without data");
  });

  it("with data keeps its data; an answer that is not JSON-RPC error 3 is no revert", () => {
    expect(broadcastRevertData(answer("0x12345678"))).to.equal("0x12345678");
    expect(broadcastRevertData({ error: { code: -32000, message: "nonce too low" } })).to.equal(undefined);
    expect(broadcastRevertData(new Error("socket hang up"))).to.equal(undefined);
  });
});
