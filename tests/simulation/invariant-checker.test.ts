import { describe, expect, test } from "bun:test";
import { type Entry, EntryType, emptyConfState } from "../../src/raft/types.ts";
import { InvariantChecker, type InvariantViolation } from "./invariant-checker.ts";
import { SimDisk } from "./sim-disk.ts";

const enc = new TextEncoder();

function entry(index: number, term: number, data: string): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(data) };
}

function disk(entries: Entry[], commit = 0, term = 0): SimDisk {
  return new SimDisk(
    {
      hardState: { term, vote: null, commit },
      snapshot: { index: 0, term: 0, confState: emptyConfState() },
      entries,
    },
    new Uint8Array(0),
  );
}

function violation(f: () => void): string {
  try {
    f();
  } catch (e) {
    return (e as InvariantViolation).invariant;
  }
  return "none";
}

// Each check must be able to fire: feed the checker a history that breaks exactly one property.
describe("InvariantChecker flags each broken property", () => {
  test("election safety: two leaders in one term", () => {
    const ck = new InvariantChecker();
    ck.onRole("n1", true, 3, disk([]));
    ck.onRole("n1", true, 3, disk([])); // the same leader again is fine
    expect(violation(() => ck.onRole("n2", true, 3, disk([])))).toBe("election-safety");
  });

  test("log matching: same index and term, different content", () => {
    const ck = new InvariantChecker();
    const a = disk([entry(1, 1, "x")]);
    const b = disk([entry(1, 1, "y")]);
    ck.onEntriesPersisted("n1", a, a.entries);
    expect(violation(() => ck.onEntriesPersisted("n2", b, b.entries))).toBe("log-matching");
  });

  test("log matching: same index and term, different predecessor", () => {
    const ck = new InvariantChecker();
    const a = disk([entry(1, 1, "x"), entry(2, 3, "z")]);
    const b = disk([entry(1, 2, "w"), entry(2, 3, "z")]);
    ck.onEntriesPersisted("n1", a, a.entries);
    expect(violation(() => ck.onEntriesPersisted("n2", b, b.entries))).toBe("log-matching");
  });

  test("leader completeness: a later leader lacks a committed entry", () => {
    const ck = new InvariantChecker();
    const a = disk([entry(1, 1, "x")], 1, 1);
    ck.onCommitAdvance("n1", a, 0, 1, 1);
    ck.onRole("n1", true, 1, a);
    const b = disk([entry(1, 2, "y")]);
    expect(violation(() => ck.onRole("n2", true, 2, b))).toBe("leader-completeness");
  });

  test("committed entries never change", () => {
    const ck = new InvariantChecker();
    ck.onCommitAdvance("n1", disk([entry(1, 1, "x")]), 0, 1, 1);
    expect(violation(() => ck.onCommitAdvance("n2", disk([entry(1, 2, "y")]), 0, 1, 2))).toBe(
      "committed-entry-changed",
    );
  });

  test("state machine safety: two nodes apply different entries at one index", () => {
    const ck = new InvariantChecker();
    ck.onStart("n1", disk([entry(1, 1, "x")], 1), 1);
    ck.onStart("n2", disk([entry(1, 1, "x")], 1), 1);
    ck.onApply("n1", entry(1, 1, "x"), 111);
    expect(violation(() => ck.onApply("n2", entry(1, 1, "y"), 222))).toBe("state-machine-safety");
  });

  test("apply order: no gaps, no re-apply", () => {
    const ck = new InvariantChecker();
    ck.onStart("n1", disk([entry(1, 1, "a"), entry(2, 1, "b")], 2), 2);
    expect(violation(() => ck.onApply("n1", entry(2, 1, "b"), 1))).toBe("apply-order");
  });

  test("ReadIndex: a read below a commit acknowledged before it was issued", () => {
    const ck = new InvariantChecker();
    ck.onCommitAdvance("n1", disk([entry(1, 1, "a"), entry(2, 1, "b")]), 0, 2, 1);
    ck.onReadIssued("r1");
    ck.onReadState("n2", { index: 2, context: "r1" });
    expect(violation(() => ck.onReadState("n3", { index: 1, context: "r1" }))).toBe(
      "read-index-linearizable",
    );
  });

  test("a node votes twice in one term, or its term or commit goes backwards", () => {
    const ck = new InvariantChecker();
    ck.onHardState("n1", { term: 2, vote: "n2", commit: 3 });
    expect(violation(() => ck.onHardState("n1", { term: 2, vote: "n3", commit: 3 }))).toBe("single-vote");
    expect(violation(() => ck.onHardState("n1", { term: 1, vote: null, commit: 3 }))).toBe("term-monotonic");
    expect(violation(() => ck.onHardState("n1", { term: 2, vote: "n2", commit: 2 }))).toBe(
      "commit-monotonic",
    );
  });

  test("full pairwise log check finds a divergence below a matching entry", () => {
    const ck = new InvariantChecker();
    const a = disk([entry(1, 1, "x"), entry(2, 2, "z")]);
    const b = disk([entry(1, 1, "y"), entry(2, 2, "z")]);
    expect(
      violation(() =>
        ck.checkAllLogs([
          ["n1", a],
          ["n2", b],
        ]),
      ),
    ).toBe("log-matching");
    const c = disk([entry(1, 1, "x"), entry(2, 3, "q")]);
    expect(
      violation(() =>
        ck.checkAllLogs([
          ["n1", a],
          ["n3", c],
        ]),
      ),
    ).toBe("none");
  });
});
