// uPlot charts (the library is loaded from /vendor, bundled from node_modules). Each plot fills its container's width.
const { uPlot } = window;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const live = new Set();

/** Integer steps for axes that count (heights, task ids, submissions). */
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

function size(el) {
  const style = getComputedStyle(el);
  const width = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return { width: Math.max(200, width), height: width < 500 ? 180 : 220 };
}

function make(el, opts, data) {
  el.innerHTML = "";
  const plot = new uPlot({ ...size(el), ...opts }, data, el);
  plot.__el = el;
  live.add(plot);
  return plot;
}

/** Drops the plots of the previous page (the app re-renders on navigation and on live updates). */
export function clearPlots() {
  for (const p of live) p.destroy();
  live.clear();
}

window.addEventListener("resize", () => {
  for (const p of live) p.setSize(size(p.__el));
});

/** Winner's median accuracy per learning block. */
export function accuracyPlot(el, blocks) {
  const data = [blocks.map((b) => b.height), blocks.map((b) => b.score / 100)];
  return make(el, {
    title: "Accuracy across the learning chain",
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [{ label: "height", incrs: WHOLE }, { label: "accuracy %" }],
    series: [{ label: "height" }, { label: "winner's median %", stroke: COLORS[0], width: 2, points: { show: true, size: 6 } }],
  }, data);
}

/** Each validator's score per submission, the median, and the band between the lowest and highest score. */
export function scoresPlot(el, submissions, validators) {
  const xs = submissions.map((s) => s.index);
  const scoreOf = (s, v) => {
    const found = s.scores.find((x) => x.validator === v);
    return found === undefined ? null : found.score / 100;
  };
  const lows = submissions.map((s) => (s.scores.length ? Math.min(...s.scores.map((x) => x.score)) / 100 : null));
  const highs = submissions.map((s) => (s.scores.length ? Math.max(...s.scores.map((x) => x.score)) / 100 : null));
  const medians = submissions.map((s) => (s.median === undefined || s.median > 10000 ? null : s.median / 100));
  const series = [
    { label: "submission" },
    { label: "lowest", stroke: "#9ca3af", dash: [4, 4] },
    { label: "highest", stroke: "#9ca3af", dash: [4, 4] },
    { label: "median", stroke: "#111827", width: 3, points: { show: true, size: 8 } },
    ...validators.map((v, i) => ({ label: `${v.slice(0, 6)}…${v.slice(-4)}`, stroke: COLORS[i % COLORS.length], width: 0, points: { show: true, size: 7, fill: COLORS[i % COLORS.length] } })),
  ];
  const data = [xs, lows, highs, medians, ...validators.map((v) => submissions.map((s) => scoreOf(s, v)))];
  return make(el, {
    title: "Scores per submission (median and band)",
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: [0, 100] } },
    axes: [{ label: "submission (reveal order)", incrs: WHOLE }, { label: "score %" }],
    bands: [{ series: [2, 1], fill: "rgba(37, 99, 235, 0.12)" }],
    series,
  }, data);
}

/** Seconds spent in each phase, per finished task. */
export function phasePlot(el, rows) {
  const phases = ["queued", "keys", "training", "reveal", "attestation"];
  const data = [rows.map((r) => r.taskId), ...phases.map((p) => rows.map((r) => r[p]))];
  return make(el, {
    title: "Phase durations per task (seconds)",
    scales: { x: { time: false } },
    axes: [{ label: "task", incrs: WHOLE }, { label: "seconds" }],
    series: [{ label: "task" }, ...phases.map((p, i) => ({ label: p, stroke: COLORS[i], width: 2, points: { show: true, size: 5 } }))],
  }, data);
}

/** Each bonded validator's share of the total stake, as bars. */
export function stakePlot(el, stakes) {
  const total = stakes.reduce((sum, s) => sum + Number(BigInt(s.stake) / 10n ** 12n), 0) || 1;
  const data = [stakes.map((_, i) => i + 1), stakes.map((s) => (100 * Number(BigInt(s.stake) / 10n ** 12n)) / total)];
  return make(el, {
    title: "Stake shares",
    scales: { x: { time: false, range: (u, min, max) => [min - 0.6, max + 0.6] }, y: { range: [0, 100] } },
    axes: [{ label: "validator (see table)", incrs: WHOLE }, { label: "share %" }],
    series: [{ label: "validator" }, { label: "stake share %", stroke: COLORS[2], fill: "rgba(22, 163, 74, 0.35)", paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } }],
  }, data);
}
