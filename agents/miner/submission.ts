import { ZeroAddress, getAddress, hexlify, randomBytes } from "ethers";
import { testKillPoint } from "../chain/test-hook.js";
import { isAgentError } from "../config/errors.js";
import { whileUrgent } from "../core/deadline.js";
import { approveIfNeeded } from "../core/erc20.js";
import { tryMarketCall } from "../keeper/index.js";
import type { TaskSpec } from "../ml/spec.js";
import type { EngineResult } from "../ml/engine.js";
import { modelCommitment } from "../protocol/commitments.js";
import { PHASE } from "../protocol/phases.js";
import { uploadSubmission } from "../protocol/submission.js";
import { MODEL_SALT, type ChainTask, type MinerContext, type TaskData } from "./context.js";

/** Uploads the trained model and its checkpoints, stores the commitment's opening, then commits. */
export async function submit(ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask, spec: TaskSpec, run: EngineResult): Promise<void> {
  const state = ctx.rt.store;
  const postStarted = performance.now();
  const up = await uploadSubmission(ctx.o.store, spec, run, { taskId, seed: t.seed, miner: ctx.address });
  ctx.rt.log.info({ taskId, phase: "hash", seconds: up.seconds.hash, checkpoints: up.checkpointCids.length }, "timing");
  ctx.rt.log.info({ taskId, phase: "upload", seconds: up.seconds.upload, modelCid: up.modelCid, bytes: up.bytes.byteLength }, "timing");

  if ((await ctx.nextTimestamp()) > t.commitDeadline) {
    ctx.set(taskId, "missed", { ...data, reason: "training ended after the commit deadline" });
    ctx.say(taskId, `missed task ${taskId}: training ended after the commit deadline`, "warn");
    return;
  }
  const salt = hexlify(randomBytes(32));
  const commitment = modelCommitment({
    market: ctx.o.market,
    chainId: ctx.rt.chain.chainId,
    taskId,
    miner: ctx.address,
    modelHash: up.modelHash,
    checkpointRoot: up.checkpointRoot,
    salt,
  });
  // Write-ahead: the opening is on disk before the commitment can reach the chain.
  state.putSalt({ taskId, purpose: MODEL_SALT, commitment, salt, data: { modelCid: up.modelCid, modelHash: up.modelHash, checkpointRoot: up.checkpointRoot, manifestCid: up.manifestCid } });
  const committed = { ...data, commitment, modelCid: up.modelCid };
  ctx.set(taskId, "committed", committed);
  testKillPoint("after-salt", `model task ${taskId}`);
  const started = performance.now();
  await whileUrgent(ctx.rt, () => sendCommit(ctx, taskId, committed, t));
  ctx.timing(taskId, "tx", started, { tx: "commitModel" });
  ctx.postSeconds = (performance.now() - postStarted) / 1000;
}

/** Approves the bond (ERC20 tasks) and sends `commitModel`; a refusal that left nothing on chain fails the task. */
export async function sendCommit(ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask): Promise<void> {
  const { sender } = ctx.rt;
  try {
    if (t.token !== ZeroAddress) await approveIfNeeded(sender, ctx.rt.chain.provider, t.token, ctx.o.market, t.minerBond, `approve the miner bond of task ${taskId}`);
    const sent = await sender.call(ctx.market, "commitModel", [taskId, data.commitment], {
      ...(t.token === ZeroAddress ? { value: t.minerBond } : {}),
      label: `commitModel task ${taskId}`,
    });
    ctx.say(taskId, `committed to a model for task ${taskId} (bond ${t.minerBond})`, "info", { txHash: sent.hash, modelCid: data.modelCid });
  } catch (e) {
    if (isAgentError(e, "TX_REVERTED") || isAgentError(e, "INSUFFICIENT_FUNDS")) {
      // Nothing reached the chain (a revert at estimation or on chain, or no funds): say why and stop.
      if (!(await ctx.market.isMiner(taskId, ctx.address))) {
        ctx.set(taskId, "failed", { ...data, reason: e.message });
        ctx.say(taskId, `failed task ${taskId}: commitModel: ${e.message} [${e.code}]`, "error", { code: e.code });
        return;
      }
    }
    throw e;
  }
}

/** A commitment in the state: make sure the chain has it, reveal when the window opens. */
export async function reconcile(ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask, next: bigint): Promise<void> {
  const opening = ctx.rt.store.getSalt(taskId, MODEL_SALT, data.commitment);
  if (opening === undefined) throw new Error(`task ${taskId}: phase committed without a stored opening`);
  if (!(await ctx.market.isMiner(taskId, ctx.address))) {
    if (next <= t.commitDeadline && t.phase === PHASE.Committing) {
      ctx.rt.log.info({ taskId }, `task ${taskId}: the commitment is not on chain yet; sending it again`);
      return await whileUrgent(ctx.rt, () => sendCommit(ctx, taskId, data, t));
    }
    ctx.set(taskId, "missed", { ...data, reason: "the commitment never reached the chain before the deadline" });
    ctx.say(taskId, `missed task ${taskId}: the commitment never reached the chain before the deadline`, "error");
    return;
  }
  if (next <= t.commitDeadline) return;
  if (t.testUnlockedAt === 0n) {
    // Reveals open only with the test keys (TestDataUnlocked), so a publisher who defaults has seen
    // no model. The publisher withheld them: the default path returns our bond with a share of the
    // publisher bond; anyone may trigger it.
    if (next > t.testKeyDeadline) await tryMarketCall(ctx.rt.sender, ctx.market, ctx.rt.log, "timeoutTestKeys", taskId);
    return;
  }
  const revealed = (await ctx.market.getRevealed(taskId)).some((s) => getAddress(s.miner) === ctx.address);
  if (revealed) {
    ctx.set(taskId, "revealed", data);
    return;
  }
  if (next > t.revealDeadline) {
    ctx.set(taskId, "missed", { ...data, reason: "the reveal window closed; the bond is forfeit" });
    ctx.say(taskId, `missed task ${taskId}: the reveal window closed before it revealed; the bond is forfeit`, "error");
    return;
  }
  const o = opening.data as { modelCid: string; modelHash: string; checkpointRoot: string };
  if (!(await ctx.o.store.has(o.modelCid))) {
    ctx.rt.log.error({ taskId, modelCid: o.modelCid }, `task ${taskId}: the artifact is no longer in the local IPFS store; validators will not find it`);
  }
  const started = performance.now();
  let sent;
  try {
    sent = await whileUrgent(ctx.rt, () =>
      ctx.rt.sender.call(ctx.market, "revealModel", [taskId, o.modelCid, o.modelHash, o.checkpointRoot, opening.salt], { label: `revealModel task ${taskId}` }),
    );
  } catch (e) {
    // A block a second early (TooEarly) or a reveal that landed unseen: the next step reads the chain again.
    if (!isAgentError(e, "TX_REVERTED")) throw e;
    ctx.rt.log.warn({ taskId, err: e.message }, `task ${taskId}: revealModel reverted; will look again`);
    return;
  }
  ctx.timing(taskId, "tx", started, { tx: "revealModel" });
  ctx.set(taskId, "revealed", data);
  ctx.say(taskId, `revealed model ${o.modelCid} for task ${taskId}`, "info", { txHash: sent.hash });
}
