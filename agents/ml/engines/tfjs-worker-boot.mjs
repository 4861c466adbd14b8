// Entry of a tfjs-worker thread: the agents are TypeScript, and a worker does not inherit the
// loader hooks its parent registered at run time (hardhat's tests, scripts), so it registers tsx
// itself before loading the worker's module.
import { register } from "tsx/esm/api";

register();
await import("./tfjs-worker-main.ts");
