import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.connect();

const ZERO = ethers.ZeroAddress;
const ONE = 10n ** 18n;
const params = { minStake: ONE, unbondingPeriod: 3600n, drawDelay: 2n, maxValidators: 64n };

async function deploy() {
  const signers = await ethers.getSigners();
  const owner = signers[0]!;
  const registry = await ethers.deployContract("ValidatorRegistry", [owner.address, ZERO, params]);
  return { registry, owner, signers };
}

describe("ValidatorRegistry", () => {
  it("stake: counts validators with stake >= minStake as bonded", async () => {
    const { registry, signers } = await networkHelpers.loadFixture(deploy);
    for (const v of signers.slice(1, 4)) {
      await registry.connect(v).stake(ONE, { value: ONE });
    }
    expect(await registry.bondedCount()).to.equal(3n);
    expect(await registry.totalOwed()).to.equal(3n * ONE);
    expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(3n * ONE);
  });
});
