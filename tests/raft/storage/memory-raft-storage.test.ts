import { describe, expect, test } from "bun:test";
import { MemoryRaftStorage } from "../../../src/raft/storage/memory-raft-storage.ts";
import { raftStorageContract, range } from "./raft-storage-contract.ts";

raftStorageContract("MemoryRaftStorage", () => new MemoryRaftStorage());

describe("MemoryRaftStorage", () => {
  test("termAt reports stored terms only", () => {
    const s = new MemoryRaftStorage();
    expect(s.termAt(1)).toBeNull();
    s.storeEntries(range(1, 4, 2));
    s.compact(1);
    expect(s.termAt(1)).toBeNull();
    expect(s.termAt(2)).toBe(2);
    expect(s.termAt(4)).toBe(2);
    expect(s.termAt(5)).toBeNull();
  });

  test("returned hard state is a copy", () => {
    const s = new MemoryRaftStorage();
    s.setHardState({ term: 1, vote: "a", commit: 0 });
    s.getHardState()!.term = 99;
    expect(s.getHardState()!.term).toBe(1);
  });
});
