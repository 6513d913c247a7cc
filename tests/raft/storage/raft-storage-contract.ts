import { describe, expect, test } from "bun:test";
import type { RaftStorage } from "../../../src/raft/raft-storage.ts";
import { type Entry, EntryType } from "../../../src/raft/types.ts";

// Behaviour every RaftStorage must share; run against each implementation by its own test file.

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

export function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

function summary(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.type}/${new TextDecoder().decode(e.data)}`);
}

export function raftStorageContract(name: string, make: () => RaftStorage): void {
  describe(`${name}: RaftStorage contract`, () => {
    test("an empty log reports 0/0 and returns nothing", () => {
      const s = make();
      expect(s.firstIndex()).toBe(0);
      expect(s.lastIndex()).toBe(0);
      expect(s.getEntries(1, 10)).toEqual([]);
      expect(s.getHardState()).toBeNull();
      s.close();
    });

    test("appends and reads back entries with their type and bytes", () => {
      const s = make();
      const conf: Entry = {
        index: 3,
        term: 2,
        type: EntryType.ConfChange,
        data: new Uint8Array([1, 2, 255]),
      };
      const empty: Entry = { index: 4, term: 2, type: EntryType.Normal, data: new Uint8Array(0) };
      s.storeEntries([entry(1, 1), entry(2, 1)]);
      s.storeEntries([conf, empty]);
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(4);
      const got = s.getEntries(1, 5);
      expect(summary(got)).toEqual(["1/1/0/e1t1", "2/1/0/e2t1", "3/2/1/\x01\x02\ufffd", "4/2/0/"]);
      expect(got[2]!.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(got[2]!.data)).toEqual([1, 2, 255]);
      expect(got[3]!.data.byteLength).toBe(0);
      expect(summary(s.getEntries(2, 4))).toEqual(["2/1/0/e2t1", "3/2/1/\x01\x02\ufffd"]);
      s.close();
    });

    test("reads are clamped to what is stored", () => {
      const s = make();
      s.storeEntries(range(1, 5, 1));
      s.compact(2);
      expect(s.getEntries(0, 100).map((e) => e.index)).toEqual([3, 4, 5]);
      expect(s.getEntries(5, 5)).toEqual([]);
      expect(s.getEntries(6, 9)).toEqual([]);
      s.close();
    });

    test("conflict truncation drops the stored suffix from the first new index", () => {
      const s = make();
      s.storeEntries(range(1, 10, 1));
      s.storeEntries([entry(6, 2), entry(7, 2)]);
      expect(s.lastIndex()).toBe(7);
      expect(s.getEntries(1, 100).map((e) => `${e.index}/${e.term}`)).toEqual([
        "1/1",
        "2/1",
        "3/1",
        "4/1",
        "5/1",
        "6/2",
        "7/2",
      ]);
      // Overwrite exactly at the last index, and then append after it.
      s.storeEntries([entry(7, 3)]);
      s.storeEntries([entry(8, 3)]);
      expect(s.getEntries(6, 9).map((e) => `${e.index}/${e.term}`)).toEqual(["6/2", "7/3", "8/3"]);
      s.close();
    });

    test("rejects gaps and non-consecutive batches without changing the log", () => {
      const s = make();
      s.storeEntries(range(1, 3, 1));
      expect(() => s.storeEntries([entry(5, 1)])).toThrow(/gap/);
      expect(() => s.storeEntries([entry(4, 1), entry(6, 1)])).toThrow(/consecutive/);
      expect(() => s.storeEntries([entry(0, 1)])).toThrow(/bad entry index/);
      expect(s.lastIndex()).toBe(3);
      expect(s.getEntries(1, 10).map((e) => e.index)).toEqual([1, 2, 3]);
      s.close();
    });

    test("compaction removes the prefix; compacting everything empties the log", () => {
      const s = make();
      s.storeEntries(range(1, 10, 1));
      s.compact(0);
      expect(s.firstIndex()).toBe(1);
      s.compact(4);
      expect(s.firstIndex()).toBe(5);
      expect(s.lastIndex()).toBe(10);
      expect(s.getEntries(1, 6).map((e) => e.index)).toEqual([5]);
      s.compact(3); // already compacted: no-op
      expect(s.firstIndex()).toBe(5);
      s.compact(20);
      expect(s.firstIndex()).toBe(0);
      expect(s.lastIndex()).toBe(0);
      // After a snapshot at 20 the log resumes at 21.
      s.storeEntries(range(21, 22, 4));
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(22);
      s.close();
    });

    test("truncating below the first index replaces the whole log", () => {
      const s = make();
      s.storeEntries(range(5, 8, 1));
      s.storeEntries([entry(3, 2)]);
      expect(s.firstIndex()).toBe(3);
      expect(s.lastIndex()).toBe(3);
      expect(s.getEntries(0, 10).map((e) => `${e.index}/${e.term}`)).toEqual(["3/2"]);
      s.close();
    });

    test("hard state round trips, with and without a vote", () => {
      const s = make();
      s.setHardState({ term: 3, vote: "node2", commit: 7 });
      expect(s.getHardState()).toEqual({ term: 3, vote: "node2", commit: 7 });
      s.setHardState({ term: 4, vote: null, commit: 9 });
      expect(s.getHardState()).toEqual({ term: 4, vote: null, commit: 9 });
      s.close();
    });

    test("persist stores hard state and entries together; null hard state keeps the old one", () => {
      const s = make();
      s.persist({ term: 2, vote: "a", commit: 1 }, range(1, 3, 2));
      expect(s.getHardState()).toEqual({ term: 2, vote: "a", commit: 1 });
      expect(s.lastIndex()).toBe(3);
      s.persist(null, [entry(4, 2)]);
      expect(s.getHardState()).toEqual({ term: 2, vote: "a", commit: 1 });
      s.persist({ term: 2, vote: "a", commit: 4 }, []);
      expect(s.getHardState()?.commit).toBe(4);
      expect(s.lastIndex()).toBe(4);
      s.close();
    });

    test("named values round trip and are independent of the hard state", () => {
      const s = make();
      expect(s.get("applied")).toBeNull();
      s.set("applied", new Uint8Array([1, 2, 3]));
      s.set("hard_state", new Uint8Array([9]));
      s.setHardState({ term: 1, vote: null, commit: 0 });
      expect(Array.from(s.get("applied")!)).toEqual([1, 2, 3]);
      expect(Array.from(s.get("hard_state")!)).toEqual([9]);
      expect(s.getHardState()).toEqual({ term: 1, vote: null, commit: 0 });
      s.close();
    });

    test("a large batch of 5000 entries lands in one call", () => {
      const s = make();
      const batch: Entry[] = [];
      for (let i = 1; i <= 5000; i++) {
        const data = new Uint8Array(200).fill(i % 251);
        batch.push({ index: i, term: 1, type: EntryType.Normal, data });
      }
      s.persist({ term: 1, vote: "n1", commit: 0 }, batch);
      expect(s.lastIndex()).toBe(5000);
      const got = s.getEntries(1, 5001);
      expect(got.length).toBe(5000);
      for (const e of got) {
        expect(e.data.byteLength).toBe(200);
        expect(e.data[0]).toBe(e.index % 251);
        expect(e.data[199]).toBe(e.index % 251);
      }
      s.close();
    });

    test("a caller reusing its buffer after persist does not change the stored entry", () => {
      const s = make();
      const buf = new Uint8Array([1, 2, 3]);
      s.storeEntries([{ index: 1, term: 1, type: EntryType.Normal, data: buf }]);
      buf.fill(0);
      expect(Array.from(s.getEntries(1, 2)[0]!.data)).toEqual([1, 2, 3]);
      s.close();
    });

    test("use after close throws", () => {
      const s = make();
      s.close();
      expect(() => s.lastIndex() + s.getEntries(1, 2).length).toThrow(/after close/);
    });
  });
}
