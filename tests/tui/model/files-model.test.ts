import { describe, expect, test } from "bun:test";
import { filesModel, hashColumnWidth } from "../../../tui/model/files-model.ts";
import { initialState, withCluster, withFiles } from "../../../tui/model/tui-state.ts";
import type { FileEntry, TuiState } from "../../../tui/model/types.ts";
import { threeHealthy } from "../fixtures.ts";

const H1 = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000";
const H2 = "bbbbbbbbbbbb1111111111111111111111111111111111111111111111111111";
const f = (path: string, hash: string, size = 5): FileEntry => ({ path, size, hash });

function withLists(lists: Record<string, FileEntry[] | null>): TuiState {
  let s = withCluster(initialState("attach", "test"), threeHealthy(), "node1", "test", 1000);
  for (const [node, entries] of Object.entries(lists))
    s = withFiles(s, node, entries, entries ? null : "down", 1000);
  return s;
}

describe("filesModel", () => {
  test("a file with one hash on every node is agreed; full and 12-char hashes compare equal", () => {
    const m = filesModel(
      withLists({ node1: [f("a.txt", H1)], node2: [f("a.txt", H1.slice(0, 12))], node3: [f("a.txt", H1)] }),
    );
    expect(m.nodes).toEqual(["node1", "node2", "node3"]);
    expect(m.rows).toHaveLength(1);
    expect(m.rows[0]!.state).toBe("agreed");
    expect(m.rows[0]!.cells.map((c) => c.hash)).toEqual(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "aaaaaaaaaaaa"]);
    expect(m.agreed).toBe(1);
    expect(m.differing).toBe(0);
  });

  test("a differing hash marks the row and the odd cell, and sorts the row first", () => {
    const m = filesModel(
      withLists({
        node1: [f("a.txt", H1), f("z.txt", H1)],
        node2: [f("a.txt", H1), f("z.txt", H1)],
        node3: [f("a.txt", H1), f("z.txt", H2)],
      }),
    );
    expect(m.rows.map((r) => [r.path, r.state])).toEqual([
      ["z.txt", "differs"],
      ["a.txt", "agreed"],
    ]);
    expect(m.rows[0]!.cells.map((c) => c.state)).toEqual(["same", "same", "differs"]);
    expect(m.rows[0]!.agree).toBe(2);
    expect(m.differing).toBe(1);
  });

  test("a file not yet on every node is partial; a down node is unknown, not missing", () => {
    const m = filesModel(withLists({ node1: [f("new.txt", H1)], node2: [], node3: null }));
    const row = m.rows[0]!;
    expect(row.state).toBe("partial");
    expect(row.cells.map((c) => c.state)).toEqual(["same", "missing", "unknown"]);
    expect(row.known).toBe(2);
    const settled = filesModel(
      withLists({ node1: [f("new.txt", H1)], node2: [f("new.txt", H1)], node3: null }),
    );
    expect(settled.rows[0]!.state).toBe("agreed");
    expect(settled.rows[0]!.known).toBe(2);
  });

  test("the filter keeps matching paths but the totals count every file", () => {
    const m = filesModel(
      withLists({ node1: [f("docs/a.md", H1), f("src/b.ts", H1)], node2: null, node3: null }),
      "DOCS",
    );
    expect(m.rows.map((r) => r.path)).toEqual(["docs/a.md"]);
    expect(m.total).toBe(2);
  });

  test("hash columns shrink to fit and give way to a summary when too narrow", () => {
    expect(hashColumnWidth(120, 3, 34)).toBe(12);
    expect(hashColumnWidth(80, 5, 34)).toBe(8);
    expect(hashColumnWidth(80, 20, 34)).toBe(0);
  });
});
