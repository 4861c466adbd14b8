import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

// Compilers cannot be downloaded on our build machines: use the solc-js build that ships in
// the `solc` npm package (pinned in package-lock.json).
const require = createRequire(import.meta.url);
const solcJsPath = require.resolve("solc/soljson.js");
const solcVersion: string = require("solc/package.json").version;

// Invariant runs: 256 by default, more under PODL_INVARIANT_RUNS (e.g. in a nightly job).
const invariantRuns = Number(process.env.PODL_INVARIANT_RUNS ?? 256);
const invariantDepth = Number(process.env.PODL_INVARIANT_DEPTH ?? 100);

// The two largest contracts compile through the IR pipeline: it keeps them under the 24 KiB code limit
// (EIP-170) with room for the security fixes (TaskMarket 24,554 -> 20,496 bytes, Settlement 23,070 ->
// 19,358 at the commit that introduced it).
const viaIr = {
  version: solcVersion,
  path: solcJsPath,
  settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 }, viaIR: true },
};

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    compilers: [
      {
        version: solcVersion,
        path: solcJsPath,
        settings: {
          evmVersion: "cancun",
          optimizer: { enabled: true, runs: 200 },
        },
      },
    ],
    // Artifacts (and TypeChain types) for the token interface the agents call (agents/core/erc20.ts).
    npmFilesToBuild: ["@openzeppelin/contracts/token/ERC20/IERC20.sol"],
    overrides: {
      "contracts/TaskMarket.sol": viaIr,
      "contracts/Settlement.sol": viaIr,
    },
  },
  paths: {
    tests: { mocha: "test", solidity: "test" },
  },
  test: {
    solidity: {
      fuzz: { runs: 256, seed: "0x506f444c" },
      invariant: { runs: invariantRuns, depth: invariantDepth, failOnRevert: false },
    },
    mocha: { timeout: 120_000 },
  },
  typechain: { outDir: "types" },
  networks: {
    // `npx hardhat node`: a block every second even without transactions, so the market's windows
    // (block time) pass while agents wait; with automine alone the clock stops once nobody sends.
    node: {
      type: "edr-simulated",
      chainType: "l1",
      mining: { auto: true, interval: 1000 },
    },
    // An OP-stack chain simulated in process, for the L2 randomness path (test/validators/DrawL2.test.ts).
    hardhatOp: {
      type: "edr-simulated",
      chainType: "op",
      // EDR's later OP hardforks (Holocene on) expect EIP-1559 parameters in the block's extra data,
      // which its simulated genesis lacks
      hardfork: "granite",
    },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
  },
});
