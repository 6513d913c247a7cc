import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sha256Hex } from "../../src/store/chunker.ts";
import { decodeCommand, encodeCommand } from "../../src/store/commands.ts";
import { LegacyForwardError, legacyForwardToCommand } from "../../src/store/legacy-forward.ts";
import { Log, makeNode, put, readText, removeDir, type TestNode, tempDir } from "./fsm-fixture.ts";

let base: string;
let n: TestNode;
beforeEach(() => {
  base = tempDir();
  n = makeNode(base, "node1");
});
afterEach(() => {
  n.close();
  removeDir(base);
});

const deps = () => ({ index: n.index, chunks: n.chunks, nodeId: "node1", now: () => 1_700_000_000_000 });

describe("legacy FORWARD conversion", () => {
  test("the original's literal example becomes a put that applies", async () => {
    const json =
      '{"op":"write","path":"test.txt","data":"dGVzdA==","hash":"abc123","node_id":"node1","sequence":1}';
    const { command, missingChunks } = await legacyForwardToCommand(json, deps());
    expect(command).toMatchObject({
      op: "put",
      path: "test.txt",
      size: 4,
      hash: sha256Hex(new TextEncoder().encode("test")), // computed; the legacy "hash" is not trusted
      base: {},
      origin: "node1",
      seq: 1,
      mode: 0o644,
      mtimeMs: 1_700_000_000_000,
    });
    expect(missingChunks).toEqual([]);
    const r = await n.fsm.apply(new Log().add(decodeCommand(encodeCommand(command)) as never));
    expect(r.action).toBe("put");
    expect(readText(n.root, "test.txt")).toBe("test");
  });

  test("last writer wins: the base is the current entry's clock, so no conflict copy appears", async () => {
    const log = new Log();
    await n.fsm.apply(log.add(put("hello.txt", "v1", { origin: "node2", mode: 0o600 })));
    await n.fsm.apply(log.add(put("hello.txt", "v2", { origin: "node3", base: { node2: 1 }, mode: 0o600 })));
    const { command } = await legacyForwardToCommand(
      { op: "write", path: "./hello.txt", data: Buffer.from("hello\n").toString("base64"), node_id: "node2" },
      deps(),
    );
    expect(command).toMatchObject({ path: "hello.txt", base: n.index.get("hello.txt")!.clock, mode: 0o600 });
    const r = await n.fsm.apply(log.add(command));
    expect(r.action).toBe("put");
    expect(readText(n.root, "hello.txt")).toBe("hello\n");

    const del = await legacyForwardToCommand('{"op":"delete","path":"hello.txt"}', deps());
    expect(del.command).toEqual({
      op: "delete",
      path: "hello.txt",
      base: n.index.get("hello.txt")!.clock,
      origin: "node1",
      seq: 0,
    });
  });

  test("null data is an empty file; Go-style case-insensitive keys are accepted", async () => {
    const { command } = await legacyForwardToCommand('{"Op":"write","Path":"e.txt","Data":null}', deps());
    expect(command).toMatchObject({ op: "put", path: "e.txt", size: 0, chunks: [] });
  });

  test("large content is stored locally and shipped out of band", async () => {
    const big = new Uint8Array(700_000).map((_, i) => (i * 2654435761) >>> 24);
    const { command, missingChunks } = await legacyForwardToCommand(
      { op: "write", path: "big.bin", data: Buffer.from(big).toString("base64") },
      deps(),
    );
    if (command.op !== "put") throw new Error("expected put");
    expect(command.inline).toEqual([]);
    expect(missingChunks.length).toBeGreaterThan(1);
    for (const h of missingChunks) expect(n.chunks.has(h)).toBe(true);
  });

  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{op:", /JSON/],
    ["unknown op", '{"op":"chmod","path":"a"}', /unknown operation/],
    ["no path", '{"op":"write","data":""}', /path/],
    ["escape", '{"op":"write","path":"../../etc/passwd","data":""}', /\.\./],
    ["absolute", '{"op":"delete","path":"/etc/passwd"}', /absolute/],
    ["state dir", '{"op":"write","path":".pickbox/state.db","data":""}', /\.pickbox/],
    ["bad base64", '{"op":"write","path":"a","data":"!!!"}', /base64/],
    ["unpadded base64", '{"op":"write","path":"a","data":"dGVzdA"}', /base64/],
    ["data not text", '{"op":"write","path":"a","data":[1,2]}', /base64/],
    ["array", "[1]", /object/],
  ];
  for (const [name, input, msg] of bad) {
    test(`rejects ${name}`, async () => {
      const p = legacyForwardToCommand(input, deps());
      await expect(p).rejects.toBeInstanceOf(LegacyForwardError);
      await expect(legacyForwardToCommand(input, deps())).rejects.toThrow(msg);
    });
  }
});
