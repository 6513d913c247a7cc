import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSnapshotStore } from "../../../src/raft/storage/file-snapshot-store.ts";
import type { SnapshotMeta } from "../../../src/raft/types.ts";

let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "pickbox-snapshots-")), "snapshots");
});
afterEach(() => {
  rmSync(join(dir, ".."), { recursive: true, force: true });
});

function meta(term: number, index: number): SnapshotMeta {
  return {
    term,
    index,
    confState: { voters: ["n1", "n2"], learners: ["n3"], addresses: { n1: "127.0.0.1:8001" } },
  };
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

async function save(store: FileSnapshotStore, m: SnapshotMeta, ...chunks: string[]): Promise<void> {
  const sink = await store.create(m);
  for (const c of chunks) await sink.write(bytes(c));
  await sink.close();
}

async function readAll(data: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of data) parts.push(c);
  return Buffer.concat(parts).toString("utf8");
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("FileSnapshotStore", () => {
  test("a closed snapshot is listed and opens with its meta and data", async () => {
    const store = new FileSnapshotStore(dir);
    expect(await store.list()).toEqual([]);
    await save(store, meta(2, 10), "hello ", "snapshot");
    expect(await store.list()).toEqual([meta(2, 10)]);
    expect(readdirSync(dir)).toEqual(["2-10"]);
    expect(readdirSync(join(dir, "2-10")).sort()).toEqual(["data", "meta.json"]);
    const opened = (await store.open(10))!;
    expect(opened.meta).toEqual(meta(2, 10));
    expect(opened.size).toBe(14);
    expect(await readAll(opened.data)).toBe("hello snapshot");
    expect(await store.open(11)).toBeNull();
  });

  test("a snapshot is invisible until close(), and a new store on the same folder sees it after", async () => {
    const store = new FileSnapshotStore(dir);
    const sink = await store.create(meta(1, 5));
    await sink.write(bytes("partial"));
    expect(await store.list()).toEqual([]);
    expect(await store.open(5)).toBeNull();
    await sink.close();
    expect(await new FileSnapshotStore(dir).list()).toEqual([meta(1, 5)]);
  });

  test("close() keeps only the newest `retain` snapshots", async () => {
    const store = new FileSnapshotStore(dir);
    await save(store, meta(1, 10), "a");
    await save(store, meta(1, 20), "b");
    await save(store, meta(2, 30), "c");
    await save(store, meta(3, 40), "d");
    expect((await store.list()).map((m) => m.index)).toEqual([40, 30]);
    expect(readdirSync(dir).sort()).toEqual(["2-30", "3-40"]);

    const one = new FileSnapshotStore(dir, { retain: 1 });
    await save(one, meta(3, 50), "e");
    expect(readdirSync(dir)).toEqual(["3-50"]);
  });

  test("cancel() leaves nothing behind, and the sink refuses further use", async () => {
    const store = new FileSnapshotStore(dir);
    const sink = await store.create(meta(1, 5));
    await sink.write(bytes("doomed"));
    expect(readdirSync(dir).length).toBe(1); // the .tmp directory
    await sink.cancel();
    expect(readdirSync(dir)).toEqual([]);
    expect(await store.list()).toEqual([]);
    await expect(sink.write(bytes("x"))).rejects.toThrow(/cancelled sink/);
    await expect(sink.close()).rejects.toThrow(/cancelled sink/);
    await sink.cancel(); // idempotent
  });

  test("a new store removes .tmp directories left by a crash", async () => {
    const crashed = new FileSnapshotStore(dir);
    const sink = await crashed.create(meta(1, 7));
    await sink.write(bytes("never closed"));
    mkdirSync(join(dir, "4-99.3.tmp"));
    writeFileSync(join(dir, "4-99.3.tmp", "data"), "x");
    await save(crashed, meta(1, 6), "kept");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp")).length).toBe(2);

    const store = new FileSnapshotStore(dir);
    expect(readdirSync(dir)).toEqual(["1-6"]);
    expect((await store.list()).map((m) => m.index)).toEqual([6]);
    await sink.cancel(); // release the crashed writer's file descriptor
  });

  test("corrupt, missing or mismatched meta.json makes a snapshot ignored, with the reason reported", async () => {
    const store = new FileSnapshotStore(dir, { retain: 10 });
    await save(store, meta(1, 1), "one");
    await save(store, meta(1, 2), "two");
    await save(store, meta(1, 3), "three");
    await save(store, meta(1, 4), "four");
    await save(store, meta(1, 5), "five");
    writeFileSync(join(dir, "1-2", "meta.json"), "{not json");
    rmSync(join(dir, "1-3", "meta.json"));
    writeFileSync(join(dir, "1-4", "data"), "four plus"); // size no longer matches
    const m5 = JSON.parse(readFileSync(join(dir, "1-5", "meta.json"), "utf8"));
    m5.meta.index = 6; // meta.json describes another snapshot than its folder name
    writeFileSync(join(dir, "1-5", "meta.json"), JSON.stringify(m5));

    expect((await store.list()).map((m) => m.index)).toEqual([1]);
    const problems = store.problems().sort((a, b) => a.name.localeCompare(b.name));
    expect(problems.map((p) => p.name)).toEqual(["1-2", "1-3", "1-4", "1-5"]);
    expect(problems[0]!.error).toMatch(/1-2: meta.json is not JSON/);
    expect(problems[1]!.error).toMatch(/1-3: cannot read meta.json/);
    expect(problems[2]!.error).toMatch(/1-4: data has 9 bytes, meta.json says 4/);
    expect(problems[3]!.error).toMatch(/1-5: meta.json describes 1-6/);
    expect(await store.open(2)).toBeNull();
    expect(await readAll((await store.open(1))!.data)).toBe("one");
  });

  test("corrupt data bytes of the right size fail the read at the end", async () => {
    const store = new FileSnapshotStore(dir);
    await save(store, meta(1, 9), "precious");
    writeFileSync(join(dir, "1-9", "data"), "PRECIOUS");
    const opened = (await store.open(9))!;
    await expect(readAll(opened.data)).rejects.toThrow(/1-9: data checksum mismatch/);
  });

  test("closing a snapshot with the same term and index as a stored one keeps the stored one", async () => {
    const store = new FileSnapshotStore(dir);
    await save(store, meta(2, 8), "first");
    await save(store, meta(2, 8), "second");
    expect(readdirSync(dir)).toEqual(["2-8"]);
    expect(await readAll((await store.open(8))!.data)).toBe("first");
  });

  test("a corrupt snapshot is replaced by a new one of the same name, and older corrupt ones are pruned", async () => {
    const store = new FileSnapshotStore(dir);
    await save(store, meta(1, 3), "old");
    await save(store, meta(2, 8), "x");
    writeFileSync(join(dir, "1-3", "meta.json"), "garbage");
    writeFileSync(join(dir, "2-8", "meta.json"), "garbage");
    await save(store, meta(2, 8), "fresh");
    expect(readdirSync(dir)).toEqual(["2-8"]);
    expect(await readAll((await store.open(8))!.data)).toBe("fresh");
  });

  test("unawaited writes are applied in order, small ones coalesced and large ones passed through", async () => {
    const store = new FileSnapshotStore(dir);
    const sink = await store.create(meta(1, 1));
    const expected: Uint8Array[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      const size = i % 100 === 0 ? 300_000 : 1 + (i % 700);
      const chunk = new Uint8Array(size).fill(i % 256);
      expected.push(chunk);
      writes.push(sink.write(chunk));
    }
    writes.push(sink.close());
    await Promise.all(writes);
    const opened = (await store.open(1))!;
    const want = Buffer.concat(expected);
    expect(opened.size).toBe(want.byteLength);
    const parts: Uint8Array[] = [];
    for await (const c of opened.data) parts.push(c);
    expect(Buffer.concat(parts).equals(want)).toBe(true);
  });

  test("a snapshot opened before it is pruned still reads completely", async () => {
    const store = new FileSnapshotStore(dir);
    await save(store, meta(1, 1), "oldest data");
    const opened = (await store.open(1))!;
    await save(store, meta(1, 2), "b");
    await save(store, meta(1, 3), "c");
    expect(existsSync(join(dir, "1-1"))).toBe(false);
    expect(await readAll(opened.data)).toBe("oldest data");
  });

  test("the open file is released by reading to the end, breaking out, or close()", async () => {
    const store = new FileSnapshotStore(dir, { readChunkSize: 4096 });
    const sink = await store.create(meta(1, 1));
    await sink.write(new Uint8Array(100_000));
    await sink.close();
    const baseline = openFds();

    await readAll((await store.open(1))!.data);
    expect(openFds()).toBe(baseline);

    const broken = (await store.open(1))!;
    expect(openFds()).toBe(baseline + 1);
    for await (const c of broken.data) {
      expect(c.byteLength).toBe(4096);
      break;
    }
    expect(openFds()).toBe(baseline);

    const unread = (await store.open(1))!;
    expect(openFds()).toBe(baseline + 1);
    await unread.close();
    expect(openFds()).toBe(baseline);
  });

  test("a 64 MiB snapshot streams through in bounded chunks without being held in memory", async () => {
    const store = new FileSnapshotStore(dir);
    const MiB = 1 << 20;
    const total = 64 * MiB;
    const pattern = (i: number) => new Uint8Array(MiB).fill((i * 7 + 1) % 256);

    Bun.gc(true);
    const baseRss = process.memoryUsage().rss;
    let peakRss = baseRss;
    const sample = () => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    };

    const writeHash = new Bun.CryptoHasher("sha256");
    const sink = await store.create(meta(5, 1000));
    for (let i = 0; i < 64; i++) {
      const chunk = pattern(i);
      writeHash.update(chunk);
      await sink.write(chunk);
      if (i % 8 === 7) Bun.gc(true);
      sample();
    }
    await sink.close();

    const opened = (await store.open(1000))!;
    expect(opened.size).toBe(total);
    const readHash = new Bun.CryptoHasher("sha256");
    let read = 0;
    let chunks = 0;
    for await (const c of opened.data) {
      expect(c.byteLength).toBeLessThanOrEqual(MiB);
      readHash.update(c);
      read += c.byteLength;
      if (++chunks % 8 === 0) Bun.gc(true);
      sample();
    }
    expect(read).toBe(total);
    expect(readHash.digest("hex")).toBe(writeHash.digest("hex"));
    // Holding the snapshot would cost >= 64 MiB; streaming keeps a few 1 MiB buffers alive.
    expect(peakRss - baseRss).toBeLessThan(32 * MiB);
  }, 30_000);
});
