// Per-file vector clocks: nodeId -> counter, a missing key counts as 0.
// A proposal carries the clock of the version it was based on; the FSM compares it with the current one.

export type VectorClock = Record<string, number>;
export type ClockOrder = "equal" | "before" | "after" | "concurrent";

function counter(c: VectorClock, node: string): number {
  const v = Object.hasOwn(c, node) ? c[node] : undefined;
  return typeof v === "number" && v > 0 ? v : 0;
}

/** How `a` relates to `b`: "before" means a happened-before b (b dominates a). */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let aBigger = false;
  let bBigger = false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = counter(a, k);
    const y = counter(b, k);
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
    if (aBigger && bBigger) return "concurrent";
  }
  if (aBigger) return "after";
  if (bBigger) return "before";
  return "equal";
}

/** A new clock with `node`'s counter one higher; the input is not modified. */
export function incrementClock(c: VectorClock, node: string): VectorClock {
  const out = normalized(c);
  setCounter(out, node, counter(c, node) + 1);
  return out;
}

/** Pointwise maximum; a new object with zero entries dropped. */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const out = normalized(a);
  for (const k of Object.keys(b)) {
    const y = counter(b, k);
    if (y > counter(out, k)) setCounter(out, k, y);
  }
  return out;
}

/** A copy without zero/invalid entries, keys sorted so serialised clocks are byte-identical on every node. */
export function normalized(c: VectorClock): VectorClock {
  const out: VectorClock = {};
  for (const k of Object.keys(c).sort()) {
    const v = counter(c, k);
    if (v > 0) setCounter(out, k, v);
  }
  return out;
}

// defineProperty so that a node id such as "__proto__" is stored as data, not as a prototype change.
function setCounter(c: VectorClock, node: string, v: number): void {
  Object.defineProperty(c, node, { value: v, enumerable: true, writable: true, configurable: true });
}
