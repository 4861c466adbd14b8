// The explorer page: a hash-routed view over the JSON API, re-rendered in place when the indexer reports new blocks.
import { amount, bps, countdown, countdownText, duration, esc, num, short, time } from "./format.js";
import { accuracyPlot, clearPlots, phasePlot, scoresPlot, stakePlot } from "./plots.js";

const main = document.getElementById("main");
const PHASE_STEPS = ["queued", "started", "committing", "revealing", "attesting", "settled"];

async function get(path) {
  const res = await fetch(`/api${path}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const table = (head, rows, empty = "none yet") =>
  rows.length === 0
    ? `<p class="muted">${empty}</p>`
    : `<div class="table"><table><thead><tr>${head.map((h) => `<th${h.startsWith("#") ? ' class="n"' : ""}>${esc(h.replace(/^#/, ""))}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
const taskLink = (id) => `<a href="#/task/${id}">#${id}</a>`;
const badge = (text, cls = text) => `<span class="badge ${esc(cls)}">${esc(text)}</span>`;
const card = (k, v, test) => `<div class="card"><div class="k">${esc(k)}</div><div class="v"${test ? ` data-test="${test}"` : ""}>${v}</div></div>`;

function timeline(task) {
  const phase = task.phase;
  if (!PHASE_STEPS.includes(phase)) return `<ul class="timeline"><li class="now">${esc(phase)}</li></ul>`;
  const at = PHASE_STEPS.indexOf(phase);
  const deadline = { started: task.deadlines.key, committing: task.deadlines.commit, revealing: task.deadlines.reveal ?? task.deadlines.testKey, attesting: task.deadlines.attestReveal };
  return `<ul class="timeline">${PHASE_STEPS.map((p, i) => `<li class="${i < at ? "done" : i === at ? "now" : ""}">${esc(p)}${i === at && deadline[p] ? `<br>${countdown(deadline[p])}` : ""}</li>`).join("")}</ul>`;
}

// ---- pages ----

async function overview() {
  const o = await get("/overview?recent=10");
  const s = o.status;
  const queueRows = o.queue.map(
    (q) => `<tr><td class="n">${q.rank}</td><td>${taskLink(q.taskId)}</td><td>${short(q.publisher)}</td><td>${amount(q.reward, q.token)}</td>
      <td class="n">${q.terms ? num(q.terms.dn) : "–"}</td><td class="n">${q.terms ? num(q.terms.dc) : "–"}</td><td class="n">${q.terms ? num(q.terms.q) : "–"}</td>
      <td class="n">${q.terms ? num(q.terms.score) : "–"}</td><td class="n">${num(q.score)}</td><td>${time(q.postedAt)}</td></tr>`,
  );
  const active = o.active.map(
    (t) => `<div class="card task-card" data-task="${t.taskId}"><strong>${taskLink(t.taskId)}</strong> ${badge(t.phase)} · ${amount(t.reward, t.token)} · ${t.commits} committed, ${t.submissions.length} revealed${timeline(t)}</div>`,
  );
  const recent = o.recent.map((t) => {
    const w = t.submissions.find((x) => x.winner);
    return `<tr data-task="${t.taskId}"><td>${taskLink(t.taskId)}</td><td>${badge(t.outcome ?? t.phase, t.phase)}</td><td data-test="winner">${w ? short(w.miner) : "–"}</td>
      <td class="n" data-test="winner-median">${w ? bps(w.median) : "–"}</td><td class="n">${t.submissions.length}</td><td class="n">${t.pool ? amount(t.pool, t.token) : "–"}</td><td>${time(t.timeline.at(-1)?.time)}</td></tr>`;
  });
  main.innerHTML = `<h1>Market overview</h1>
    <div class="cards">${card("learning-chain height", esc(s.chainHeight), "chain-height")}${card("indexed block", esc(s.indexedBlock))}${card("queued", `${s.queueLength} / ${s.params?.maxQueue ?? "?"}`, "queue-length")}${card("active", `${s.activeCount} / ${s.params?.maxActive ?? "?"}`)}${card("chain time", time(s.time))}</div>
    <h2>Queue <span class="muted">(start order: lowest DLBC score first; score = (dn + dc<sup>q</sup>) / reward)</span></h2>
    <div id="queue">${table(["#rank", "task", "publisher", "reward", "#dn (s)", "#dc (s)", "#q", "#score", "#market score", "posted"], queueRows, "the queue is empty")}</div>
    <h2>Active tasks</h2><div id="active">${active.join("") || '<p class="muted">no task is running</p>'}</div>
    <h2>Recent settlements</h2><div id="recent">${table(["task", "outcome", "winner", "#median", "#submissions", "#pool", "settled"], recent)}</div>
    <div class="grid2"><div><h2>Learning chain</h2><div class="plot" id="plot-accuracy"></div></div><div><h2>Phase durations</h2><div class="plot" id="plot-phases"></div></div></div>
    <h2>Stake shares</h2><div class="plot" id="plot-stakes"></div>`;
  accuracyPlot(document.getElementById("plot-accuracy"), o.chain);
  phasePlot(document.getElementById("plot-phases"), o.phaseDurations);
  stakePlot(document.getElementById("plot-stakes"), o.stakes);
}

async function taskPage(id) {
  const t = await get(`/tasks/${encodeURIComponent(id)}`);
  const validators = [...new Set(t.committees.flatMap((c) => c.members))];
  const scored = [...new Set(t.submissions.flatMap((s) => s.scores.map((x) => x.validator)))];
  const columns = validators.filter((v) => scored.includes(v));
  const subs = t.submissions.map((s) => {
    const cells = columns.map((v) => {
      const found = s.scores.find((x) => x.validator === v);
      return `<td class="n" data-validator="${esc(v)}" data-score="${found?.score ?? ""}">${found ? bps(found.score) : "–"}</td>`;
    });
    const role = s.winner ? badge("winner") : s.ommer ? badge("ommer") : "";
    return `<tr data-submission="${s.index}"><td class="n">${s.index}</td><td data-test="${s.winner ? "winner" : "miner"}">${short(s.miner)}</td><td class="n">${s.commitSeq}</td><td>${short(s.modelCid)}</td>${cells.join("")}<td class="n" data-test="median">${bps(s.median)}</td><td>${role}</td></tr>`;
  });
  const payouts = t.payouts.map((p) => `<tr><td>${short(p.account)}</td><td>${badge(p.role)}</td><td class="n" data-test="payout" data-account="${esc(p.account)}" data-amount="${esc(p.amount)}">${amount(p.amount, p.token)}</td><td>${p.claimed ? "claimed" : "unclaimed"}</td></tr>`);
  const committees = t.committees.map((c) => `<tr><td class="n">${c.round}</td><td>${c.members.map((m) => short(m)).join(", ")}</td><td class="n">${c.committed.length}</td><td class="n">${c.revealed.length}</td><td>${time(c.commitDeadline)}</td><td>${time(c.revealDeadline)}</td></tr>`);
  const steps = t.timeline.map((e) => `<tr><td>${esc(e.step)}</td><td>${time(e.time)}</td><td class="n">${e.block}</td><td>${short(e.tx)}</td></tr>`);
  const r = t.request;
  const winner = t.submissions.find((s) => s.winner);
  main.innerHTML = `<h1>Task #${t.taskId} ${badge(t.phase)}</h1>
    ${timeline(t)}
    <div class="grid2"><div class="card"><dl class="kv">
      <dt>publisher</dt><dd>${short(t.publisher)}</dd><dt>reward</dt><dd>${amount(t.reward, t.token)}</dd><dt>publisher bond</dt><dd>${amount(t.publisherBond, t.token)}</dd>
      <dt>spec</dt><dd class="mono">${esc(t.specCid)}</dd><dt>dataset root</dt><dd>${short(t.datasetRoot)}</dd>
      ${r ? `<dt>dataset</dt><dd>${esc(r.shardCount)} shards, ${esc(r.testShards)} for testing, ${num(Number(r.dataBytes) / 1024)} KiB</dd><dt>model</dt><dd>${num(Number(r.modelBytes) / 1024)} KiB, ${num(Number(r.flops))} FLOPs</dd><dt>threshold</dt><dd>${bps(r.accuracyThreshold)}</dd><dt>train window</dt><dd>${duration(r.trainWindow)}</dd><dt>max submissions</dt><dd>${esc(r.maxSubmissions)}</dd>` : ""}
    </dl></div><div class="card"><dl class="kv">
      <dt>posted</dt><dd>${time(t.postedAt)}</dd><dt>commits</dt><dd>${t.commits}</dd><dt>reveals</dt><dd>${t.submissions.length}</dd>
      ${t.outcome ? `<dt>outcome</dt><dd>${esc(t.outcome)}</dd><dt>pool</dt><dd>${amount(t.pool, t.token)}</dd>` : ""}
      <dt>winner</dt><dd data-test="task-winner">${winner ? `${short(winner.miner)} with ${bps(winner.median)}` : "–"}</dd>
      ${t.learningBlock ? `<dt>learning block</dt><dd data-test="learning-block">height ${t.learningBlock.height}, head ${short(t.learningBlock.head)}</dd>` : ""}
      ${winner && t.outcome ? `<dt>model</dt><dd><a href="ipfs://${esc(winner.modelCid)}">ipfs://${esc(short(winner.modelCid, false))}</a> · <code>podl model get ${t.taskId}</code></dd>` : ""}
      ${t.blockReward ? `<dt>block reward</dt><dd>publisher ${units18(t.blockReward.publisherAmount)}, winner ${units18(t.blockReward.winnerAmount)}, ommers ${units18(t.blockReward.ommerAmount)} PODL</dd>` : ""}
    </dl></div></div>
    <h2>Submissions and scores</h2>
    <div id="submissions">${table(["#", "miner", "#commit", "model", ...columns.map((v) => `#${short(v, false)}`), "#median", ""], subs, "no model revealed yet")}</div>
    <div class="plot" id="plot-scores"></div>
    <h2>Payouts</h2><div id="payouts">${table(["account", "role", "#amount", "claim"], payouts, t.outcome ? "nothing paid" : "posted at settlement")}</div>
    ${t.slashes.length ? `<h2>Slashes</h2>${table(["validator", "#amount"], t.slashes.map((x) => `<tr><td>${short(x.validator)}</td><td class="n">${amount(x.amount)}</td></tr>`))}` : ""}
    <h2>Committees</h2>${table(["#round", "members", "#committed", "#revealed", "commit by", "reveal by"], committees, "not drawn yet")}
    <h2>Timeline</h2>${table(["step", "time", "#block", "tx"], steps)}`;
  if (t.submissions.length > 0) scoresPlot(document.getElementById("plot-scores"), t.submissions, columns);
  else document.getElementById("plot-scores").remove();
}

const units18 = (v) => (Number(BigInt(v) / 10n ** 14n) / 1e4).toLocaleString("en-US");

async function validatorsPage() {
  const page = await get("/validators?limit=100");
  const rows = page.items.map(
    (v, i) => `<tr><td class="n">${i + 1}</td><td>${short(v.address)}</td><td class="n">${amount(v.stake)}</td><td>${v.bonded ? badge("bonded", "settled") : badge(v.unbondingAt ? "unbonding" : "out")}</td>
      <td class="n">${v.committees}</td><td class="n">${v.reveals}</td><td class="n">${v.slashes ? `${v.slashes} (${amount(v.slashed)})` : "0"}</td><td class="n">${Object.entries(v.earned).map(([tk, a]) => amount(a, tk)).join("<br>") || "–"}</td></tr>`,
  );
  main.innerHTML = `<h1>Validators <span class="muted">(${page.total})</span></h1>
    ${table(["#", "address", "#stake", "status", "#committees", "#reveals", "#slashes", "#earned"], rows)}
    <h2>Stake shares</h2><div class="plot" id="plot-stakes"></div>`;
  stakePlot(document.getElementById("plot-stakes"), page.items.filter((v) => BigInt(v.stake) > 0n));
}

async function minersPage() {
  const page = await get("/miners?limit=100");
  const rows = page.items.map(
    (m) => `<tr><td>${short(m.address)}</td><td class="n">${m.submissions}</td><td class="n">${m.wins}</td><td class="n">${m.ommers}</td><td class="n">${Object.entries(m.earned).map(([tk, a]) => amount(a, tk)).join("<br>") || "–"}</td></tr>`,
  );
  main.innerHTML = `<h1>Miners <span class="muted">(${page.total})</span></h1>${table(["address", "#submissions", "#wins", "#ommers", "#earned"], rows)}`;
}

async function chainPage() {
  const page = await get("/chain?limit=100");
  const rows = page.items.map((b) => `<tr><td class="n">${b.height}</td><td>${taskLink(b.taskId)}</td><td>${short(b.winner)}</td><td class="n">${bps(b.score)}</td><td>${short(b.modelHash)}</td><td>${short(b.head)}</td><td>${time(b.time)}</td></tr>`);
  main.innerHTML = `<h1>Learning chain <span class="muted">(height ${page.total})</span></h1>
    <div class="plot" id="plot-accuracy"></div>
    ${table(["#height", "task", "winner", "#accuracy", "model", "head", "time"], rows)}`;
  accuracyPlot(document.getElementById("plot-accuracy"), [...page.items].reverse());
}

// ---- routing, live updates, countdowns ----

async function render() {
  const hash = location.hash || "#/";
  const task = /^#\/task\/(\d+)$/.exec(hash);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.getAttribute("href") === hash);
  clearPlots();
  try {
    if (task) await taskPage(task[1]);
    else if (hash === "#/validators") await validatorsPage();
    else if (hash === "#/miners") await minersPage();
    else if (hash === "#/chain") await chainPage();
    else await overview();
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
  } catch (e) {
    main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
}

window.addEventListener("hashchange", render);
setInterval(() => {
  for (const el of document.querySelectorAll("[data-deadline]")) el.textContent = countdownText(el.dataset.deadline);
}, 1000);

const status = document.getElementById("live");
const events = new EventSource("/api/events");
events.addEventListener("hello", () => {
  status.textContent = "live";
  status.classList.add("on");
});
events.addEventListener("update", (e) => {
  const u = JSON.parse(e.data);
  status.textContent = `live · block ${u.block}`;
  document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1);
  render();
});
events.onerror = () => {
  status.textContent = "reconnecting…";
  status.classList.remove("on");
};

render();
