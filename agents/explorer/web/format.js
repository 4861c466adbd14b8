// Formatting for people: amounts in ETH or tokens, short addresses with the full value on hover, local times.
const ETH = "0x0000000000000000000000000000000000000000";

/** Escapes text for HTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** 18-decimal base units as a decimal string with at most `digits` decimals (trailing zeros cut). */
export function units(amount, digits = 4) {
  const v = BigInt(amount);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / 10n ** 18n;
  const frac = (abs % 10n ** 18n).toString().padStart(18, "0").slice(0, digits).replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole.toLocaleString("en-US")}${frac ? `.${frac}` : ""}`;
}

/** An amount of `token` (address(0) = ETH), with the exact base units on hover. */
export function amount(value, token = ETH) {
  const unit = token === ETH ? "ETH" : `tokens (${short(token, false)})`;
  return `<span class="amount" title="${esc(value)} base units">${units(value)} ${unit}</span>`;
}

/** 0x1234…abcd, the full value on hover; `link` makes validator and miner addresses clickable. */
export function short(address, html = true) {
  const a = String(address);
  const s = a.length > 14 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
  return html ? `<span class="addr" title="${esc(a)}" data-full="${esc(a)}">${esc(s)}</span>` : s;
}

/** Basis points as a percentage: 8450 → "84.50%". */
export function bps(value) {
  return value === undefined || value === null ? "–" : `${(Number(value) / 100).toFixed(2)}%`;
}

/** A unix time (seconds) in the reader's local time zone. */
export function time(seconds) {
  if (!seconds) return "–";
  const d = new Date(Number(seconds) * 1000);
  return `<time datetime="${d.toISOString()}" title="${d.toISOString()}">${esc(d.toLocaleString())}</time>`;
}

/** Seconds as "1h 02m", "4m 05s", "12s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A countdown to a unix deadline; the page refreshes every `[data-deadline]` each second. */
export function countdown(deadline) {
  return deadline ? `<span class="countdown" data-deadline="${Number(deadline)}">${countdownText(deadline)}</span>` : "–";
}

export function countdownText(deadline) {
  const left = Number(deadline) - Date.now() / 1000;
  return left > 0 ? `${duration(left)} left` : `passed ${duration(-left)} ago`;
}

/** A plain number with up to 4 significant decimals. */
export function num(value) {
  const v = Number(value);
  return Math.abs(v) >= 1000 ? v.toLocaleString("en-US", { maximumFractionDigits: 0 }) : v.toPrecision(4).replace(/\.?0+$/, "");
}
