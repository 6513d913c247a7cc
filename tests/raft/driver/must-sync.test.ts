import { expect, test } from "bun:test";
import { mustSync } from "../../../src/raft/driver/must-sync.ts";
import { type Entry, EntryType } from "../../../src/raft/types.ts";

const hs = (term: number, vote: string | null, commit: number) => ({ term, vote, commit });
const entry: Entry = { term: 2, index: 8, type: EntryType.Normal, data: new Uint8Array([1]) };

test("entries, a new term and a vote are fsynced; a commit index that moved alone is not", () => {
  const was = hs(2, "n1", 5);
  expect(mustSync({ entries: [entry], hardState: null }, was)).toBe(true);
  expect(mustSync({ entries: [entry], hardState: hs(2, "n1", 6) }, was)).toBe(true);
  expect(mustSync({ entries: [], hardState: hs(3, null, 5) }, was)).toBe(true);
  expect(mustSync({ entries: [], hardState: hs(2, "n2", 5) }, was)).toBe(true);
  expect(mustSync({ entries: [], hardState: hs(2, "n1", 9) }, was)).toBe(false);
  expect(mustSync({ entries: [], hardState: null }, was)).toBe(false);
  expect(mustSync({ entries: [], hardState: hs(1, null, 0) }, null)).toBe(true); // nothing written yet
});
