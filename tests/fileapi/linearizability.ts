// A small linearizability checker for a register per key, in the style of Porcupine / Knossos (the
// Wing–Gong–Lowe search: try to linearize pending calls in time order, backtrack on a failed return, and
// memoize (set of linearized ops, state) pairs already explored).
//
// An operation whose outcome is unknown (a write whose commit timed out, or whose connection died) has
// `end: Infinity`: it may take effect at any point after its call, or never (linearized after everything).

export type RegisterValue = string | null;

export interface Operation {
  key: string;
  kind: "read" | "write";
  /** For a write: the value written. For a read: the value observed (null = file absent). */
  value: RegisterValue;
  start: number;
  /** Infinity when the outcome is unknown. */
  end: number;
  /** Who did it (for reports). */
  client?: string;
}

export interface CheckResult {
  ok: boolean;
  /** Per key: whether its sub-history is linearizable. */
  keys: Record<string, boolean>;
  /** States explored (a cost measure). */
  explored: number;
}

interface Node {
  id: number; // op index
  isCall: boolean;
  time: number;
  match: Node | null; // call → its return
  prev: Node | null;
  next: Node | null;
}

/** Checks every key's history separately (a register per key is a local property). */
export function checkRegisters(ops: Operation[], initial: RegisterValue = null): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  const keys: Record<string, boolean> = {};
  let explored = 0;
  let ok = true;
  for (const [key, list] of byKey) {
    const r = checkRegister(list, initial);
    keys[key] = r.ok;
    explored += r.explored;
    if (!r.ok) ok = false;
  }
  return { ok, keys, explored };
}

export function checkRegister(
  ops: Operation[],
  initial: RegisterValue = null,
): { ok: boolean; explored: number } {
  if (ops.length === 0) return { ok: true, explored: 0 };
  // Events in time order; at equal times calls come first (the more permissive reading).
  const events: Node[] = [];
  ops.forEach((op, id) => {
    if (!(op.end >= op.start)) throw new Error(`operation ${id} ends before it starts`);
    const call: Node = { id, isCall: true, time: op.start, match: null, prev: null, next: null };
    const ret: Node = { id, isCall: false, time: op.end, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Node = { id: -1, isCall: false, time: -1, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const words = Math.ceil(ops.length / 32);
  const linearized = new Uint32Array(words);
  const seen = new Set<string>();
  const stack: { node: Node; state: RegisterValue }[] = [];
  let state: RegisterValue = initial;
  let entry = head.next;
  let explored = 0;

  const lift = (n: Node) => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const r = n.match!;
    r.prev!.next = r.next;
    if (r.next) r.next.prev = r.prev;
  };
  const unlift = (n: Node) => {
    const r = n.match!;
    r.prev!.next = r;
    if (r.next) r.next.prev = r;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };

  while (head.next !== null) {
    if (entry === null) throw new Error("checker ran off the end of the history");
    if (entry.isCall) {
      const op = ops[entry.id]!;
      const legal = op.kind === "write" || op.value === state;
      if (legal) {
        const next = op.kind === "write" ? op.value : state;
        linearized[entry.id >>> 5]! |= 1 << (entry.id & 31);
        const k = `${linearized.join(",")}|${next === null ? "\u0000" : next}`;
        if (!seen.has(k)) {
          seen.add(k);
          explored++;
          stack.push({ node: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id >>> 5]! &= ~(1 << (entry.id & 31));
      }
      entry = entry.next;
    } else {
      // The op returning here could not be placed before its return: undo the last choice.
      const top = stack.pop();
      if (!top) return { ok: false, explored };
      state = top.state;
      linearized[top.node.id >>> 5]! &= ~(1 << (top.node.id & 31));
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, explored };
}
