import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { buildDatasetCommitment, checkDatasetCommitment, shardKeys, trainingUnlock } from "../../agents/protocol/dataset-tree.js";
import { isProtocolError } from "../../agents/protocol/errors.js";
import { splitShards } from "../../agents/protocol/split.js";
import { makeShards } from "./helpers/market.js";
import { randomStream } from "./helpers/random.js";

const { ethers } = await network.create();

describe("Dataset commitment: contract vs TypeScript reference", () => {
  it("agrees on the leaves and the root for random datasets of 10..256 shards", async () => {
    const harness = await ethers.deployContract("DatasetHarness");
    const next = randomStream("dataset-diff");
    for (let round = 0; round < 24; round++) {
      const n = 10 + Number(next(247n));
      const shards = Array.from({ length: n }, (_, i) => ({ cid: `bafkrei${round}x${i}x${next(1n << 64n)}`, key: keccak256(toUtf8Bytes(`k${round}-${i}-${next(1n << 64n)}`)) }));
      const ts = buildDatasetCommitment(shards);
      const [leaves, root] = await harness.commitment(shards.map((s) => keccak256(toUtf8Bytes(s.cid))), shards.map((s) => s.key));
      expect(leaves).to.deep.equal(ts.leaves, `n=${n}`);
      expect(root).to.equal(ts.root, `n=${n}`);
    }
  });

  it("the miner's check accepts the publisher's unlock and rejects a CID other than the document's, a swapped leaf and a wrong root", () => {
    const shards = makeShards(16, "check");
    const { root } = buildDatasetCommitment(shards);
    const { train, test } = splitShards(keccak256(toUtf8Bytes("seed")), 16, 4);
    const { keys, testLeaves } = trainingUnlock(shards, train, test);
    const cids = shards.map((s) => s.cid);
    checkDatasetCommitment({ datasetRoot: root, cids, testIndices: test, keys, testLeaves });
    const fails = (x: Parameters<typeof checkDatasetCommitment>[0]) => {
      try {
        checkDatasetCommitment(x);
      } catch (e) {
        return isProtocolError(e, "DATASET_COMMITMENT_MISMATCH");
      }
      return false;
    };
    expect(fails({ datasetRoot: root, cids: cids.map((c, i) => (i === train[0] ? "bafkreiother" : c)), testIndices: test, keys, testLeaves })).to.equal(true);
    expect(fails({ datasetRoot: root, cids, testIndices: test, keys, testLeaves: [...testLeaves].reverse() })).to.equal(true);
    expect(fails({ datasetRoot: keccak256("0x01"), cids, testIndices: test, keys, testLeaves })).to.equal(true);
    expect(fails({ datasetRoot: root, cids, testIndices: test, keys: shardKeys(shards, train.slice(1)), testLeaves })).to.equal(true);
  });
});
