import { describe, expect, test } from "bun:test";
import {
  conflictName,
  conflictStamp,
  type Resolution,
  resolveChange,
  type Version,
} from "../../src/store/conflict.ts";
import { normalizeRelPath } from "../../src/store/paths.ts";

// 2024-03-05 07:08:09.456 UTC
const T = Date.UTC(2024, 2, 5, 7, 8, 9, 456);

describe("conflictName", () => {
  const table: Array<[string, string]> = [
    ["a.txt", "a.sync-conflict-20240305-070809-node2.txt"],
    ["dir/sub/report.pdf", "dir/sub/report.sync-conflict-20240305-070809-node2.pdf"],
    ["archive.tar.gz", "archive.tar.sync-conflict-20240305-070809-node2.gz"],
    ["Makefile", "Makefile.sync-conflict-20240305-070809-node2"],
    ["dir/README", "dir/README.sync-conflict-20240305-070809-node2"],
    [".bashrc", ".bashrc.sync-conflict-20240305-070809-node2"],
    ["home/.config", "home/.config.sync-conflict-20240305-070809-node2"],
    [".env.local", ".env.sync-conflict-20240305-070809-node2.local"],
    ["v1.2/notes", "v1.2/notes.sync-conflict-20240305-070809-node2"], // a dot in the directory is not an extension
  ];
  for (const [input, want] of table) {
    test(`${input} -> ${want}`, () => {
      expect(conflictName(input, T, "node2")).toBe(want);
      expect(normalizeRelPath(want)).toBe(want); // the result is itself a valid path
    });
  }

  test("timestamp is UTC, zero padded, and deterministic", () => {
    expect(conflictStamp(0)).toBe("19700101-000000");
    expect(conflictStamp(Date.UTC(1999, 11, 31, 23, 59, 59, 999))).toBe("19991231-235959");
    expect(conflictName("x.md", T, "n")).toBe(conflictName("x.md", T, "n"));
    expect(() => conflictStamp(Number.NaN)).toThrow(RangeError);
  });

  test("a node id with separators cannot create directories", () => {
    const name = conflictName("a.txt", T, "evil/../node");
    expect(name).toBe("a.sync-conflict-20240305-070809-evil_.._node.txt");
    expect(name.includes("/")).toBe(false);
  });

  test("an over-long name is shortened to stay within 255 bytes", () => {
    const long = `d/${"é".repeat(120)}.txt`; // 240 + 4 bytes: fits alone, not with the suffix
    const name = conflictName(long, T, "node2");
    const base = name.slice(2);
    expect(new TextEncoder().encode(base).length).toBeLessThanOrEqual(255);
    expect(base.endsWith(".sync-conflict-20240305-070809-node2.txt")).toBe(true);
    expect(base.startsWith("éé")).toBe(true);
    expect(normalizeRelPath(name)).toBe(name);
  });
});

describe("resolveChange", () => {
  const live = (clock: Record<string, number>, hash = "h1"): Version => ({
    hash,
    clock,
    deleted: false,
    origin: "n1",
  });
  const tomb = (clock: Record<string, number>): Version => ({ hash: "", clock, deleted: true, origin: "n1" });
  const edit = (base: Record<string, number>, hash = "h2") => ({ base, hash, deleted: false });
  const del = (base: Record<string, number>) => ({ base, hash: "", deleted: true });

  const cases: Array<[string, Version | undefined, ReturnType<typeof edit>, Resolution["action"]]> = [
    ["create on an empty path", undefined, edit({}), "apply"],
    ["delete of a missing path", undefined, del({}), "noop"],
    ["same content, any clock", live({ a: 5 }, "h2"), edit({ b: 1 }, "h2"), "noop"],
    ["delete of an already deleted path", tomb({ a: 2 }), del({ a: 2 }), "noop"],
    ["delete of a deleted path, concurrent clocks", tomb({ a: 2 }), del({ b: 1 }), "noop"],
    ["edit based on current (equal)", live({ a: 1 }), edit({ a: 1 }), "apply"],
    ["edit based on a later clock (after)", live({ a: 1 }), edit({ a: 1, b: 1 }), "apply"],
    ["delete based on current", live({ a: 1 }), del({ a: 1 }), "apply"],
    ["edit on a tombstone it has seen", tomb({ a: 2 }), edit({ a: 2 }), "apply"],
    ["re-create after a delete it never saw (before)", tomb({ a: 2 }), edit({ a: 1 }), "apply"],
    ["re-create concurrent with a delete", tomb({ a: 1, b: 1 }), edit({ a: 1, c: 1 }), "apply"],
    ["delete concurrent with an edit", live({ a: 1, b: 1 }), del({ a: 1, c: 1 }), "drop-delete"],
    ["delete based on an older version", live({ a: 2 }), del({ a: 1 }), "drop-delete"],
    ["edit based on an older version (before)", live({ a: 2 }), edit({ a: 1 }), "conflict"],
    ["concurrent edits", live({ a: 1, b: 1 }), edit({ a: 1, c: 1 }), "conflict"],
    ["edit of a path created concurrently", live({ b: 1 }), edit({}), "conflict"],
  ];
  for (const [name, current, incoming, want] of cases) {
    test(`${name} -> ${want}`, () => {
      expect(resolveChange(current, incoming)).toEqual({ action: want } as Resolution);
    });
  }

  test("identical hash on a tombstone is not a noop (the file must come back)", () => {
    const t: Version = { hash: "h2", clock: { a: 1 }, deleted: true, origin: "n1" };
    expect(resolveChange(t, edit({ a: 1 }, "h2")).action).toBe("apply");
  });
});
