// Time formats of the original's JSON (Go's time.Duration.String and time.RFC3339/RFC3339Nano), so tools
// that parsed the Go node's /metrics and /health keep working.

/** Go's Duration.String() for a duration in milliseconds: "0s", "450ms", "1.5ms", "3m4.567s", "1h0m0s". */
export function formatGoDuration(ms: number): string {
  let ns = Math.round(Math.abs(ms) * 1e6);
  const sign = ms < 0 && ns > 0 ? "-" : "";
  if (ns === 0) return "0s";
  if (ns < 1e9) {
    // Below a second Go picks the largest unit that keeps the integer part non-zero.
    if (ns < 1e3) return `${sign}${ns}ns`;
    if (ns < 1e6) return `${sign}${fixed(ns, 1e3)}µs`;
    return `${sign}${fixed(ns, 1e6)}ms`;
  }
  const hours = Math.floor(ns / 3.6e12);
  ns -= hours * 3.6e12;
  const minutes = Math.floor(ns / 6e10);
  ns -= minutes * 6e10;
  const seconds = fixed(ns, 1e9);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** value/unit with the fraction Go prints: up to 9 digits, trailing zeros (and a bare dot) removed. */
function fixed(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const frac = value - whole * unit;
  if (frac === 0) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(frac).padStart(digits, "0").replace(/0+$/, "")}`;
}

/**
 * RFC 3339 in local time with the zone offset, as Go prints it: seconds precision by default
 * ("2025-06-30T10:11:12+02:00"), or with the fraction (RFC3339Nano, trailing zeros trimmed).
 * A zero offset prints as "Z". offsetMinutes defaults to the process's zone at that instant.
 */
export function formatRfc3339(
  epochMs: number,
  o: { fraction?: boolean; offsetMinutes?: number } = {},
): string {
  const offset = o.offsetMinutes ?? -new Date(epochMs).getTimezoneOffset();
  const local = new Date(epochMs + offset * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  let s =
    `${p(local.getUTCFullYear(), 4)}-${p(local.getUTCMonth() + 1)}-${p(local.getUTCDate())}` +
    `T${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}`;
  if (o.fraction) {
    const ms = local.getUTCMilliseconds();
    if (ms > 0) s += `.${p(ms, 3).replace(/0+$/, "")}`;
  }
  if (offset === 0) return `${s}Z`;
  const abs = Math.abs(offset);
  return `${s}${offset < 0 ? "-" : "+"}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
}

/** "YYYY-MM-DD HH:MM:SS" in local time (the original dashboard's render time). */
export function formatLocalDateTime(epochMs: number, offsetMinutes?: number): string {
  return formatRfc3339(epochMs, { offsetMinutes: offsetMinutes ?? -new Date(epochMs).getTimezoneOffset() })
    .slice(0, 19)
    .replace("T", " ");
}
