/**
 * The layers of the TypeScript code, checked in `npm test` (`npm run lint:deps`); docs/architecture.md
 * draws them. From the top:
 *   scripts/, devnet/       entry points and the local network (may use everything below)
 *   agents/cli/             the only place that knows flags
 *   agents/{publisher,miner,verifier,explorer}/   the agents: never import one another
 *   agents/keeper/          every permissionless call, used by the agents
 *   agents/core/            runtime, clock, ERC20 helper: what every agent stands on
 *   agents/protocol/        formats and formulas two parties share
 *   agents/{chain,storage,ml,state,config,log}/   infrastructure
 *   agents/errors/          the one error base
 * A folder imports only folders below it (and, within one layer, never in a cycle).
 */
const AGENTS = "publisher|miner|verifier|explorer";
const INFRA = "chain|storage|ml|state|config|log";

/** What each layer must not import: every layer above it. */
const above = {
  errors: `cli|${AGENTS}|keeper|core|protocol|${INFRA}`,
  infra: `cli|${AGENTS}|keeper|core|protocol`,
  protocol: `cli|${AGENTS}|keeper|core`,
  core: `cli|${AGENTS}|keeper`,
  keeper: `cli|${AGENTS}`,
  agents: "cli",
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-folder-cycle",
      severity: "error",
      comment: "Two folders that import each other are one tangle: move the shared part down a layer.",
      scope: "folder",
      from: { path: "^(agents|devnet|scripts)/" },
      to: { circular: true },
    },
    {
      name: "no-module-cycle",
      severity: "error",
      comment: "A module cycle makes load order matter and hides the direction of a dependency.",
      from: { path: "^(agents|devnet|scripts)/" },
      to: { circular: true },
    },
    {
      name: "no-agent-to-agent",
      severity: "error",
      comment: "Agents share only the chain, IPFS and the lower layers; what two agents need belongs in protocol/, core/ or keeper/.",
      from: { path: `^agents/(${AGENTS})/` },
      to: { path: `^agents/(${AGENTS})/`, pathNot: "^agents/$1/" },
    },
    ...Object.entries({
      errors: "errors",
      infra: `(?:${INFRA})`,
      protocol: "protocol",
      core: "core",
      keeper: "keeper",
      agents: `(?:${AGENTS})`,
    }).map(([layer, folders]) => ({
      name: `no-upward-import-from-${layer}`,
      severity: "error",
      comment: `agents/${folders}/ sits below agents/{${above[layer]}}/ and must not import them.`,
      from: { path: `^agents/${folders}/` },
      to: { path: `^agents/(?:${above[layer]})/` },
    })),
    {
      name: "no-agents-to-entry-points",
      severity: "error",
      comment: "The agents are a library: devnet/, scripts/, bench/ and test/ use them, never the other way round.",
      from: { path: "^agents/" },
      to: { path: "^(devnet|scripts|bench|test|ignition)/" },
    },
    {
      name: "no-devnet-to-scripts",
      severity: "error",
      comment: "scripts/ holds thin entry points over devnet/ and ignition/.",
      from: { path: "^(devnet|ignition)/" },
      to: { path: "^(scripts|bench|test)/" },
    },
  ],
  options: {
    includeOnly: "^(agents|devnet|scripts|ignition|types)/",
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
