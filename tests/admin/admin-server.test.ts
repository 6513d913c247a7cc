import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { adminRequest, subscribe } from "../../src/admin/admin-client.ts";
import { AdminServer, type AdminServerOptions } from "../../src/admin/admin-server.ts";
import { encodeForwardLine } from "../../src/admin/legacy-forward.ts";
import { FakeAdminHandler, rawConnect, rawExchange, seededBytes, waitFor } from "./fake-admin-handler.ts";

const servers: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(opts: Partial<AdminServerOptions> = {}) {
  const handler = new FakeAdminHandler();
  const server = new AdminServer({ handler, port: 0, ...opts });
  servers.push(server);
  const addr = await server.listen();
  return { handler, server, addr, port: server.port };
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const fwd = (o: Record<string, unknown>) => `FORWARD ${JSON.stringify(o)}`;

describe("listener", () => {
  test("binds 127.0.0.1 by default and reports host:port", async () => {
    const { addr, port } = await start();
    expect(addr).toBe(`127.0.0.1:${port}`);
    expect(port).toBeGreaterThan(0);
  });

  test("a taken port rejects listen() instead of crashing", async () => {
    const { port } = await start();
    const other = new AdminServer({ handler: new FakeAdminHandler(), port });
    await expect(other.listen()).rejects.toThrow();
  });

  test("a secret with whitespace is refused at construction with a clear message", () => {
    expect(() => new AdminServer({ handler: new FakeAdminHandler(), secret: "two words" })).toThrow(
      /whitespace/,
    );
  });
});

describe("the original's exact replies", () => {
  test("ADD_VOTER on the leader → OK\\n and the handler gets id and address", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["ADD_VOTER node2 127.0.0.1:8002\n"])).toBe("OK\n");
    expect(handler.calls).toEqual([{ method: "addVoter", args: ["node2", "127.0.0.1:8002"] }]);
  });

  test("ADD_VOTER with the wrong number of fields → the original usage text", async () => {
    const { handler, port } = await start();
    const usage = "ERROR: Invalid ADD_VOTER command format. Usage: ADD_VOTER <nodeID> <address>\n";
    expect(await rawExchange(port, ["ADD_VOTER node2\n"])).toBe(usage);
    expect(await rawExchange(port, ["ADD_VOTER a b c\n"])).toBe(usage);
    expect(handler.calls).toEqual([]);
  });

  test("ADD_VOTER failing in raft → ERROR: <message>", async () => {
    const { handler, port } = await start();
    handler.failWith = "node is not the leader";
    expect(await rawExchange(port, ["ADD_VOTER node2 127.0.0.1:8002\n"])).toBe(
      "ERROR: node is not the leader\n",
    );
  });

  test("FORWARD on a follower → ERROR: Not leader\\n, checked before parsing", async () => {
    const { handler, port } = await start();
    handler.leader = false;
    expect(await rawExchange(port, ['FORWARD {"op":"write","path":"hello.txt","data":"aGVsbG8K"}'])).toBe(
      "ERROR: Not leader\n",
    );
    expect(await rawExchange(port, ["FORWARD {not json at all}\n"])).toBe("ERROR: Not leader\n");
    expect(handler.forwarded).toEqual([]);
  });

  test("unknown commands, including README's STATUS typo'd and prefix matches → ERROR: Unknown command\\n", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["HELLO\n"])).toBe("ERROR: Unknown command\n");
    expect(await rawExchange(port, ["status\n"])).toBe("ERROR: Unknown command\n"); // case-sensitive
    expect(await rawExchange(port, ["ADD_VOTERX a b\n"])).toBe("ERROR: Unknown command\n"); // exact word
    expect(handler.calls).toEqual([]);
  });

  test("FORWARD without a { → ERROR: Invalid FORWARD command format", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["FORWARD hello\n"])).toBe("ERROR: Invalid FORWARD command format\n");
    expect(await rawExchange(port, ["FORWARD [1,2]\n"])).toBe("ERROR: Invalid FORWARD command format\n");
  });

  test("empty input → ERROR: empty command", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["\n"])).toBe("ERROR: empty command\n");
    expect(await rawExchange(port, ["   \r\n"])).toBe("ERROR: empty command\n");
    expect(await rawExchange(port, [], { end: true })).toBe("ERROR: empty command\n");
  });
});

describe("framing", () => {
  test("no newline: the Go client writes one segment and waits; the reply comes without a half-close", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["ADD_VOTER node3 127.0.0.1:8003"])).toBe("OK\n");
    expect(await rawExchange(port, ["STATUS"])).toContain("node: node1\n");
    expect(await rawExchange(port, ["HELLO"])).toBe("ERROR: Unknown command\n");
    expect(handler.calls[0]).toEqual({ method: "addVoter", args: ["node3", "127.0.0.1:8003"] });
  });

  test("FORWARD without newline is answered as soon as its JSON is complete", async () => {
    const { handler, port } = await start({ quietMs: 60_000 }); // no quiet period could answer it
    const reply = await rawExchange(port, [fwd({ op: "write", path: "hello.txt", data: "aGVsbG8K" })]);
    expect(reply).toBe("OK\n");
    expect(new TextDecoder().decode(handler.forwarded[0]!.data!)).toBe("hello\n");
  });

  test("\\r\\n line endings and FORWARD{...} without a space", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["ADD_LEARNER node5 127.0.0.1:8005\r\n"])).toBe("OK\n");
    expect(await rawExchange(port, [`FORWARD{"op":"delete","path":"x.txt","data":null}`])).toBe("OK\n");
    expect(handler.forwarded[0]).toMatchObject({ op: "delete", path: "x.txt", data: null });
  });

  test("a command split across several TCP writes, with and without newline", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["ADD_VO", "TER node4 ", "127.0.0.1:8004", "\n"], { gapMs: 40 })).toBe(
      "OK\n",
    );
    expect(await rawExchange(port, ["ADD_VO", "TER node6 ", "127.0.0.1:8006"], { gapMs: 40 })).toBe("OK\n");
    const line = fwd({ op: "write", path: "split.txt", data: b64("split body"), hash: sha("split body") });
    const cut = [line.slice(0, 5), line.slice(5, 30), line.slice(30, 31), line.slice(31)];
    expect(await rawExchange(port, cut, { gapMs: 40 })).toBe("OK\n");
    expect(handler.calls.map((c) => c.args[0])).toEqual(["node4", "node6", expect.anything()]);
    expect(new TextDecoder().decode(handler.forwarded[0]!.data!)).toBe("split body");
  });

  test("a FORWARD whose JSON spans several lines is read whole", async () => {
    const { handler, port } = await start();
    const body = JSON.stringify({ op: "write", path: "p.txt", data: b64("pretty") }, null, 2);
    expect(await rawExchange(port, [`FORWARD ${body}\n`])).toBe("OK\n");
    expect(handler.forwarded[0]!.path).toBe("p.txt");
  });

  test("half-close ends the command: an incomplete one is judged as it stands", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["ADD_VOTER node2"], { end: true })).toBe(
      "ERROR: Invalid ADD_VOTER command format. Usage: ADD_VOTER <nodeID> <address>\n",
    );
    expect(await rawExchange(port, ['FORWARD {"op":"wri'], { end: true })).toMatch(
      /^ERROR: invalid FORWARD JSON/,
    );
  });

  test("bytes after the command are ignored, not executed", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["REMOVE node2\nREMOVE node3\n"])).toBe("OK\n");
    expect(handler.calls).toEqual([{ method: "remove", args: ["node2"] }]);
  });

  test("a 10 MiB FORWARD (no newline, many segments) arrives whole and the handler gets the exact bytes", async () => {
    const { handler, port } = await start();
    const data = seededBytes(10 * 1024 * 1024);
    const line = fwd({
      op: "write",
      path: "big.bin",
      data: b64(data),
      hash: sha(data),
      node_id: "node2",
      sequence: 7,
    });
    expect(line.length).toBeGreaterThan(13 * 1024 * 1024);
    expect(await rawExchange(port, [line])).toBe("OK\n");
    const got = handler.forwarded[0]!;
    expect(got.data!.byteLength).toBe(data.byteLength);
    expect(sha(got.data!)).toBe(sha(data));
    expect(got).toMatchObject({ path: "big.bin", nodeId: "node2", sequence: 7, hash: sha(data) });
  }, 30_000);

  test("10 MB of garbage → one ERROR line; the server serves the next connection", async () => {
    const { handler, port } = await start();
    const random = seededBytes(10_000_000, 42);
    expect(await rawExchange(port, [random])).toMatch(/^ERROR: [^\n]*\n$/);
    const noNewline = Buffer.alloc(10_000_000, "x");
    expect(await rawExchange(port, [noNewline])).toBe("ERROR: command too large (limit 65536 bytes)\n");
    const forwardJunk = Buffer.concat([Buffer.from("FORWARD "), noNewline]);
    expect(await rawExchange(port, [forwardJunk])).toBe("ERROR: Invalid FORWARD command format\n");
    expect(await rawExchange(port, ["STATUS\n"])).toContain("state: Leader\n");
    expect(handler.forwarded).toEqual([]);
  }, 30_000);

  test("a FORWARD over maxCommandBytes → command too large, nothing forwarded", async () => {
    const { handler, port } = await start({ maxCommandBytes: 1024 * 1024 });
    const line = fwd({ op: "write", path: "big.bin", data: b64(seededBytes(1024 * 1024)) });
    expect(await rawExchange(port, [line])).toBe(`ERROR: command too large (limit ${1024 * 1024} bytes)\n`);
    expect(handler.forwarded).toEqual([]);
  });

  test("half a line and then silence → timeout error within the idle timeout, connection closed", async () => {
    const { handler, port } = await start({ idleTimeoutMs: 300 });
    const { socket, reply } = await rawConnect(port);
    const t0 = performance.now();
    socket.write("ADD_VOT");
    expect(await reply).toBe("ERROR: timeout waiting for command\n");
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
    expect(handler.calls).toEqual([]);
    socket.destroy();
  });

  test("a FORWARD whose JSON never completes times out too", async () => {
    const { port } = await start({ idleTimeoutMs: 300 });
    const { socket, reply } = await rawConnect(port);
    socket.write('FORWARD {"op":"write","path":"a","data":"AAAA');
    expect(await reply).toBe("ERROR: timeout waiting for command\n");
    socket.destroy();
  });

  test("a client trickling bytes forever hits the read deadline", async () => {
    const { port } = await start({ idleTimeoutMs: 200, readDeadlineMs: 400 });
    const { socket, reply } = await rawConnect(port);
    let n = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(n++ % 2 ? " " : "x");
    }, 50);
    socket.write("FORWARD {");
    expect(await reply).toBe("ERROR: timeout waiting for command\n");
    clearInterval(drip);
    socket.destroy();
  });

  test("many concurrent connections are all answered", async () => {
    const { handler, addr } = await start();
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 ? adminRequest(addr, `ADD_VOTER n${i} 127.0.0.1:${10000 + i}`) : adminRequest(addr, "STATUS"),
      ),
    );
    replies.forEach((r, i) => {
      if (i % 2) expect(r).toBe("OK\n");
      else expect(r).toStartWith("node: node1\n");
    });
    expect(handler.calls.length).toBe(100);
  });

  test("unfinished commands together may hold at most maxPendingBytes; the accounting returns to zero", async () => {
    const { server, port } = await start({ maxPendingBytes: 1024 * 1024 });
    const first = await rawConnect(port);
    const held = `FORWARD {"op":"write","path":"a","data":"${"A".repeat(700 * 1024)}`;
    first.socket.write(held);
    await waitFor(() => server.stats().pendingBytes === held.length, "first upload buffered");
    expect(await rawExchange(port, [held])).toBe("ERROR: server busy: too much pending input, try again\n");
    first.socket.destroy();
    await waitFor(() => server.stats().pendingBytes === 0 && server.stats().connections === 0, "released");
    expect(await rawExchange(port, [`${held}"}`])).toBe("OK\n");
    expect(server.stats().pendingBytes).toBe(0);
  });

  test("beyond maxConnections a client gets ERROR: too many connections", async () => {
    const { port } = await start({ maxConnections: 2 });
    const a = await rawConnect(port);
    const b = await rawConnect(port);
    expect(await rawExchange(port, ["STATUS\n"])).toBe("ERROR: too many connections\n");
    a.socket.destroy();
    b.socket.destroy();
  });
});

describe("FORWARD validation", () => {
  test("OK only after the handler has applied the change", async () => {
    const { handler, port } = await start();
    let applied = false;
    handler.forwardImpl = async () => {
      await Bun.sleep(80);
      applied = true;
    };
    const reply = await rawExchange(port, [fwd({ op: "write", path: "a.txt", data: "" })]);
    expect(reply).toBe("OK\n");
    expect(applied).toBe(true);
  });

  test("handler errors → ERROR: <message>", async () => {
    const { handler, port } = await start();
    handler.failWith = "disk full";
    expect(await rawExchange(port, [fwd({ op: "write", path: "a.txt", data: "aGk=" })])).toBe(
      "ERROR: disk full\n",
    );
  });

  test("a handler that never finishes → ERROR after commandTimeoutMs", async () => {
    const { handler, port } = await start({ commandTimeoutMs: 200 });
    handler.forwardImpl = () => new Promise(() => {});
    handler.addVoterImpl = () => new Promise(() => {});
    expect(await rawExchange(port, [fwd({ op: "write", path: "a.txt", data: "" })])).toBe(
      "ERROR: timed out after 200 ms waiting for FORWARD to complete (it may still complete)\n",
    );
    expect(await rawExchange(port, ["ADD_VOTER n 127.0.0.1:1\n"])).toMatch(/^ERROR: timed out after 200 ms/);
  });

  test.each([
    [
      "invalid base64",
      { op: "write", path: "a", data: "@@@@" },
      "ERROR: invalid FORWARD command: data is not valid base64",
    ],
    [
      "url-safe base64",
      { op: "write", path: "a", data: "-_-_" },
      "ERROR: invalid FORWARD command: data is not valid base64",
    ],
    [
      "unpadded base64",
      { op: "write", path: "a", data: "aGk" },
      "ERROR: invalid FORWARD command: data is not valid base64",
    ],
    [
      "data not a string",
      { op: "write", path: "a", data: [1, 2] },
      "ERROR: invalid FORWARD command: data must be base64",
    ],
    [
      "hash mismatch",
      { op: "write", path: "a", data: "aGk=", hash: sha("nope") },
      "ERROR: invalid FORWARD command: hash does not match data",
    ],
    [
      "hash not hex",
      { op: "write", path: "a", data: "aGk=", hash: "xyz" },
      "ERROR: invalid FORWARD command: hash must be 64 hex digits (SHA-256)",
    ],
    [
      "unknown op",
      { op: "rename", path: "a" },
      'ERROR: invalid FORWARD command: op must be "write" or "delete"',
    ],
    [
      "missing path",
      { op: "write", data: "" },
      "ERROR: invalid FORWARD command: path must be a non-empty string",
    ],
    [
      "empty path",
      { op: "delete", path: "" },
      "ERROR: invalid FORWARD command: path must be a non-empty string",
    ],
    [
      "bad sequence",
      { op: "delete", path: "a", sequence: -1 },
      "ERROR: invalid FORWARD command: sequence must be a non-negative integer",
    ],
  ])("%s → %s", async (_name, body, expected) => {
    const { handler, port } = await start();
    expect(await rawExchange(port, [fwd(body)])).toBe(`${expected}\n`);
    expect(handler.forwarded).toEqual([]);
  });

  test("malformed JSON → ERROR: invalid FORWARD JSON", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ['FORWARD {"op":write}\n'])).toMatch(/^ERROR: invalid FORWARD JSON: /);
  });

  test.each([
    ["../../x", /\.\./],
    ["/etc/passwd", /absolute/],
    [".pickbox/state.db", /\.pickbox/],
    ["a/../../b", /\.\./],
  ])("hostile path %s is rejected before the handler", async (p, why) => {
    const { handler, port } = await start();
    const reply = await rawExchange(port, [fwd({ op: "write", path: p, data: "aGk=" })]);
    expect(reply).toStartWith("ERROR: invalid path: ");
    expect(reply).toMatch(why);
    expect(reply.endsWith("\n") && reply.indexOf("\n") === reply.length - 1).toBe(true);
    expect(handler.forwarded).toEqual([]);
  });

  test("the handler gets a canonical path, decoded bytes, hash, node_id, sequence; chunk is ignored", async () => {
    const { handler, port } = await start();
    const body = {
      op: "write",
      path: "dir/./b.txt",
      data: b64("hi"),
      hash: sha("hi").toUpperCase(),
      node_id: "node3",
      sequence: 9,
      chunk: { index: 0 },
    };
    expect(await rawExchange(port, [fwd(body)])).toBe("OK\n");
    const got = handler.forwarded[0]!;
    expect(got).toMatchObject({
      op: "write",
      path: "dir/b.txt",
      hash: sha("hi"),
      nodeId: "node3",
      sequence: 9,
    });
    expect(Buffer.from(got.data!).toString()).toBe("hi");
  });

  test("write with data null is an empty file (Go's nil []byte); the original forwarder's line works", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, [fwd({ op: "write", path: "empty.txt", data: null })])).toBe("OK\n");
    expect(handler.forwarded[0]!.data!.byteLength).toBe(0);
    const line = encodeForwardLine({
      op: "write",
      path: "go.txt",
      data: new TextEncoder().encode("x"),
      nodeId: "node2",
      sequence: 1,
    });
    expect(await rawExchange(port, [line])).toBe("OK\n");
    expect(handler.forwarded[1]).toMatchObject({
      path: "go.txt",
      nodeId: "node2",
      sequence: 1,
      hash: sha("x"),
    });
  });

  test("a custom checkPath hook is used", async () => {
    const { handler, port } = await start({
      checkPath: (p) => {
        if (p.startsWith("secret")) throw new Error("not here");
        return p.toLowerCase();
      },
    });
    expect(await rawExchange(port, [fwd({ op: "delete", path: "secret.txt" })])).toBe(
      "ERROR: invalid path: not here\n",
    );
    expect(await rawExchange(port, [fwd({ op: "delete", path: "UP.txt" })])).toBe("OK\n");
    expect(handler.forwarded.map((f) => f.path)).toEqual(["up.txt"]);
  });
});

describe("other commands", () => {
  test("STATUS prints the key: value block and closes", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["STATUS\n"])).toBe(
      [
        "node: node1",
        "state: Leader",
        "term: 3",
        "leader: node1",
        "leader_addr: 127.0.0.1:8001",
        "leader_admin: 127.0.0.1:9001",
        "peers: 3",
        "peer: node1 127.0.0.1:8001 voter match=42 lag=0 last_contact=0ms",
        "peer: node2 127.0.0.1:8002 voter match=40 lag=2 last_contact=12ms",
        "peer: node9 127.0.0.1:8009 learner match=- lag=- last_contact=-",
        "commit_index: 42",
        "applied_index: 41",
        "last_log_index: 42",
        "files: 2",
        "bytes: 1234",
        "uptime: 1h2m3s",
        "version: 0.1.0-test",
        "",
      ].join("\n"),
    );
  });

  test("CLUSTER_JSON is one JSON line with every member, reachable or not", async () => {
    const { port } = await start();
    const reply = await rawExchange(port, ["CLUSTER_JSON\n"]);
    expect(reply.indexOf("\n")).toBe(reply.length - 1);
    const j = JSON.parse(reply) as { members: { id: string; status: unknown; error: string | null }[] };
    expect(j.members.map((m) => m.id)).toEqual(["node1", "node2"]);
    expect(j.members[1]).toMatchObject({ status: null, error: "connection refused" });
  });

  test("STATUS_JSON is one JSON line", async () => {
    const { port } = await start();
    const reply = await rawExchange(port, ["STATUS_JSON\n"]);
    expect(reply.indexOf("\n")).toBe(reply.length - 1);
    const j = JSON.parse(reply);
    expect(j).toMatchObject({
      node: "node1",
      state: "Leader",
      term: 3,
      commit_index: 42,
      uptime_ms: 3_723_500,
    });
    expect(j.peers[1]).toEqual({
      id: "node2",
      address: "127.0.0.1:8002",
      voter: true,
      match: 40,
      lag: 2,
      last_contact_ms: 12,
    });
  });

  test("PEERS lists every member", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["PEERS\n"])).toBe(
      "node1 127.0.0.1:8001 voter match=42 lag=0 last_contact=0ms\n" +
        "node2 127.0.0.1:8002 voter match=40 lag=2 last_contact=12ms\n" +
        "node9 127.0.0.1:8009 learner match=- lag=- last_contact=-\n",
    );
  });

  test("FILES [prefix]: path, size, short hash, mode", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["FILES\n"])).toBe(
      "a.txt\t5\t2cf24dba5fb0\t0644\ndir/run.sh\t1229\te3b0c44298fc\t0755\n",
    );
    expect(await rawExchange(port, ["FILES dir/\n"])).toBe("dir/run.sh\t1229\te3b0c44298fc\t0755\n");
    expect(await rawExchange(port, ["FILES nothing\n"])).toBe("");
    expect(handler.calls.map((c) => c.args[0])).toEqual([undefined, "dir/", "nothing"]);
  });

  test("ADD_LEARNER, REMOVE, TRANSFER and their usage errors", async () => {
    const { handler, port } = await start();
    expect(await rawExchange(port, ["ADD_LEARNER node7 127.0.0.1:8007\n"])).toBe("OK\n");
    expect(await rawExchange(port, ["REMOVE node7\n"])).toBe("OK\n");
    expect(await rawExchange(port, ["TRANSFER node3\n"])).toBe("OK node3\n");
    expect(await rawExchange(port, ["TRANSFER\n"])).toBe("OK node2\n");
    expect(await rawExchange(port, ["ADD_LEARNER node7\n"])).toBe(
      "ERROR: Invalid ADD_LEARNER command format. Usage: ADD_LEARNER <nodeID> <address>\n",
    );
    expect(await rawExchange(port, ["REMOVE\n"])).toBe(
      "ERROR: Invalid REMOVE command format. Usage: REMOVE <nodeID>\n",
    );
    expect(await rawExchange(port, ["TRANSFER a b\n"])).toBe(
      "ERROR: Invalid TRANSFER command format. Usage: TRANSFER [<nodeID>]\n",
    );
    expect(await rawExchange(port, ["STATUS now\n"])).toBe(
      "ERROR: Invalid STATUS command format. Usage: STATUS\n",
    );
    expect(handler.calls).toEqual([
      { method: "addLearner", args: ["node7", "127.0.0.1:8007"] },
      { method: "remove", args: ["node7"] },
      { method: "transfer", args: ["node3"] },
      { method: "transfer", args: [null] },
    ]);
    handler.failWith = "leadership transfer to node3 timed out";
    expect(await rawExchange(port, ["TRANSFER node3\n"])).toBe(
      "ERROR: leadership transfer to node3 timed out\n",
    );
  });
});

describe("cluster secret", () => {
  test.each([
    "ADD_VOTER node4 127.0.0.1:8004",
    "ADD_LEARNER node4 127.0.0.1:8004",
    "REMOVE node4",
    "TRANSFER",
    fwd({ op: "delete", path: "a" }),
  ])("%s without AUTH → ERROR: authentication required", async (cmd) => {
    const { handler, port } = await start({ secret: "s3cret" });
    expect(await rawExchange(port, [`${cmd}\n`])).toBe("ERROR: authentication required\n");
    expect(handler.calls).toEqual([]);
  });

  test("the right secret is accepted, a wrong one refused; read-only commands need none", async () => {
    const { handler, port } = await start({ secret: "s3cret" });
    expect(await rawExchange(port, ["AUTH s3cret ADD_VOTER node4 127.0.0.1:8004\n"])).toBe("OK\n");
    expect(await rawExchange(port, ["AUTH s3cret ADD_VOTER node5 127.0.0.1:8005"])).toBe("OK\n"); // no newline
    expect(await rawExchange(port, [`AUTH s3cret ${fwd({ op: "delete", path: "a" })}`])).toBe("OK\n");
    expect(await rawExchange(port, ["AUTH wrong ADD_VOTER node6 127.0.0.1:8006\n"])).toBe(
      "ERROR: authentication failed\n",
    );
    expect(await rawExchange(port, ["AUTH s3cre ADD_VOTER node6 127.0.0.1:8006\n"])).toBe(
      "ERROR: authentication failed\n",
    );
    expect(await rawExchange(port, ["AUTH s3cret\n"])).toBe(
      "ERROR: Invalid AUTH format. Usage: AUTH <secret> <command>\n",
    );
    expect(await rawExchange(port, ["STATUS\n"])).toStartWith("node: node1\n");
    expect(await rawExchange(port, ["AUTH wrong STATUS\n"])).toBe("ERROR: authentication failed\n");
    expect(handler.calls.map((c) => c.method)).toEqual(["addVoter", "addVoter", "forward"]);
  });

  test("adminRequest sends the secret", async () => {
    const { addr } = await start({ secret: "s3cret" });
    expect(await adminRequest(addr, "REMOVE node2", { secret: "s3cret" })).toBe("OK\n");
    expect(await adminRequest(addr, "REMOVE node2")).toBe("ERROR: authentication required\n");
  });

  test("without a configured secret an AUTH prefix is ignored", async () => {
    const { port } = await start();
    expect(await rawExchange(port, ["AUTH anything REMOVE node2\n"])).toBe("OK\n");
  });
});

describe("SUBSCRIBE", () => {
  test("sends hello, then every event as a JSON line, until the client disconnects", async () => {
    const { handler, addr } = await start();
    const events: Record<string, unknown>[] = [];
    const sub = subscribe(addr, (e) => events.push(e));
    await waitFor(() => events.length === 1 && handler.listenerCount === 1, "hello");
    expect(events[0]).toMatchObject({ type: "hello", node: "node1", version: "0.1.0-test", state: "Leader" });
    handler.emit({ type: "apply", path: "a.txt", index: 5 });
    handler.emit({ type: "role", role: "leader", raw: new Uint8Array(3), big: 10n });
    await waitFor(() => events.length === 3, "two events");
    expect(events[1]).toEqual({ type: "apply", path: "a.txt", index: 5 });
    expect(events[2]).toEqual({ type: "role", role: "leader", raw: { bytes: 3 }, big: "10" });
    sub.close();
    await sub.closed;
    await waitFor(() => handler.listenerCount === 0, "unsubscribe on disconnect");
    handler.emit({ type: "after" }); // no listener left, nothing throws
  });

  test("a subscriber that never reads loses events; the others get every event, the node never blocks", async () => {
    const { handler, server, addr, port } = await start({ maxSubscriberBufferBytes: 256 * 1024 });
    const slow = await rawConnect(port);
    slow.socket.write("SUBSCRIBE\n");
    slow.socket.pause(); // never reads: kernel buffers fill, then the server must drop
    const fast: Record<string, unknown>[] = [];
    const sub = subscribe(addr, (e) => fast.push(e));
    await waitFor(() => handler.listenerCount === 2 && fast.length === 1, "both subscribed");

    const pad = "p".repeat(8 * 1024);
    const batches = 250;
    const perBatch = 20; // 250 × 20 × 8 KiB ≈ 40 MiB: more than any loopback socket buffer holds
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      for (let i = 0; i < perBatch; i++) handler.emit({ type: "tick", n: b * perBatch + i, pad });
      expect(performance.now() - t0).toBeLessThan(1000); // emitting is never blocked by the slow reader
      await waitFor(() => fast.length === 1 + (b + 1) * perBatch, `fast subscriber batch ${b}`);
    }
    expect(fast.slice(1).map((e) => e.n)).toEqual(Array.from({ length: batches * perBatch }, (_, i) => i));
    expect(server.stats().droppedEvents).toBeGreaterThan(0);

    // Once it reads again it is told how much it missed.
    const seen: string[] = [];
    slow.socket.on("data", (c: Buffer) => seen.push(c.toString("latin1")));
    slow.socket.resume();
    const dropped = () => seen.join("").includes('{"type":"dropped","count":');
    await waitFor(() => {
      handler.emit({ type: "nudge" });
      return dropped();
    }, "dropped notice");
    slow.socket.destroy();
    sub.close();
    await waitFor(() => handler.listenerCount === 0 && server.stats().subscribers === 0, "both gone");
  }, 60_000);

  test("close() ends subscriptions", async () => {
    const { handler, server, addr } = await start();
    let helloSeen = false;
    const sub = subscribe(addr, () => {
      helloSeen = true;
    });
    await waitFor(() => helloSeen, "hello");
    await server.close();
    await sub.closed;
    expect(handler.listenerCount).toBe(0);
  });
});

describe("netcat, as the README uses it", () => {
  const nc = Bun.which("nc");
  const run = nc || process.env.CI ? test : test.skip;
  if (!nc && !process.env.CI) {
    console.warn("note: nc (netcat-openbsd) is not installed; skipping the real `echo STATUS | nc` test");
  }
  run("echo STATUS | nc prints the status block", async () => {
    if (!nc)
      throw new Error("nc is required in CI: install netcat-openbsd (apt-get install -y netcat-openbsd)");
    const { port } = await start();
    const help = Bun.spawnSync([nc, "-h"], { stderr: "pipe", stdout: "pipe" });
    const flag = `${help.stdout}${help.stderr}`.includes("-N") ? "-N" : "-q1";
    const proc = Bun.spawn(["sh", "-c", `echo STATUS | ${nc} ${flag} 127.0.0.1 ${port}`], { stdout: "pipe" });
    const timer = setTimeout(() => proc.kill(), 10_000);
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    clearTimeout(timer);
    expect(out).toStartWith("node: node1\nstate: Leader\n");
    expect(out).toEndWith("version: 0.1.0-test\n");
  });
});
