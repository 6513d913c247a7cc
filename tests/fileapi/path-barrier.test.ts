// A linearizable STAT/OPEN waits for the committed entries that can change its path, not for every
// entry being applied: a read of one file is not held up by a large apply of another.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FileApiClient } from "../../src/fileapi/client.ts";
import type { Entry } from "../../src/raft/types.ts";
import { InProcessCluster } from "./harness.ts";

let c: InProcessCluster;
beforeAll(async () => {
  c = await InProcessCluster.start(1);
});
afterAll(async () => {
  await c.destroy();
});

test("a read waits for unapplied entries of its own path only", async () => {
  const { node, api } = c.nodes[0]!;
  const cl = await FileApiClient.connect(api.address);
  const enc = new TextEncoder();
  await cl.putFile("a.txt", enc.encode("a v1"));
  await cl.putFile("b.txt", enc.encode("b v1"));

  // Hold every apply until the gate opens (the entry commits; applying it is what waits).
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  // biome-ignore lint/complexity/useLiteralKeys: the node's private FSM, reached the way TypeScript allows
  const fsm = node["fsm"];
  const applyMany = fsm.applyMany.bind(fsm);
  const apply = fsm.apply.bind(fsm);
  fsm.applyMany = async (es: Entry[]) => {
    await gate;
    return applyMany(es);
  };
  fsm.apply = async (e: Entry) => {
    await gate;
    return apply(e);
  };
  const writer = await FileApiClient.connect(api.address);
  const put = writer.putFile("a.txt", enc.encode("a version two"));
  const deadline = Date.now() + 10_000;
  while (node.raft.status().commit <= node.raft.appliedIndex) {
    if (Date.now() > deadline) throw new Error("the write never committed");
    await Bun.sleep(5);
  }

  // b.txt: nothing pending touches it, so a linearizable STAT answers although the apply is held.
  expect((await cl.stat("b.txt")).size).toBe(4);
  // a.txt: its new version is committed, so the STAT must wait for it and then see it.
  let aDone = false;
  const reader = await FileApiClient.connect(api.address); // a connection answers in order: a separate one
  const statA = reader.stat("a.txt").then((i) => {
    aDone = true;
    return i;
  });
  expect((await cl.stat("b.txt")).size).toBe(4); // a full round trip later, a.txt is still waiting
  expect(aDone).toBe(false);
  open();
  expect((await statA).size).toBe("a version two".length);
  await put;
  cl.destroy();
  writer.destroy();
  reader.destroy();
});
