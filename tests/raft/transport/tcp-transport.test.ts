import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import {
  ConnectionLostError,
  RemoteError,
  TransportClosedError,
  TransportTimeoutError,
} from "../../../src/raft/transport/errors.ts";
import { encodeFrame, FrameDecoder } from "../../../src/raft/transport/frame-codec.ts";
import { PROTOCOL_VERSION } from "../../../src/raft/transport/frames.ts";
import { parseAddress } from "../../../src/raft/transport/options.ts";
import { TcpTransport } from "../../../src/raft/transport/tcp-transport.ts";
import { appMessage, freePort, RecordingHandler, Signal, TransportPool } from "./helpers.ts";

const pool = new TransportPool();
const rawSockets: Socket[] = [];

afterEach(async () => {
  for (const s of rawSockets.splice(0)) s.destroy();
  await pool.cleanup();
});

/** A raw client socket with a promise that settles when the server closes it. */
function rawConnect(
  address: string,
): Promise<{ socket: Socket; closed: Promise<void>; decoder: FrameDecoder }> {
  const { host, port } = parseAddress(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    rawSockets.push(socket);
    const decoder = new FrameDecoder();
    socket.on("data", (c: Uint8Array) => decoder.push(c));
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("connect", () => resolve({ socket, closed, decoder }));
    socket.once("error", reject);
  });
}

function rejectsWithin<T>(p: Promise<T>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: Error) => err,
  );
}

describe("TcpTransport messages", () => {
  test("a message with binary entries round-trips intact", async () => {
    const a = await pool.start();
    const b = await pool.start();
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
    const entries = [
      { term: 3, index: 11, type: 0 as const, data: Uint8Array.from({ length: 256 }, (_, i) => i) },
      { term: 3, index: 12, type: 1 as const, data: new Uint8Array(0) },
      { term: 3, index: 13, type: 0 as const, data: big },
    ];
    const msg = { ...appMessage(10, entries), context: "ctx-é", transfer: true };
    a.t.send(b.addr, msg);
    await b.h.waitForMessages(1);
    const got = b.h.messages[0]!;
    expect(got).toEqual(msg);
    for (const e of got.entries) expect(e.data.constructor).toBe(Uint8Array);
  });

  test("10,000 messages to one peer arrive complete and in order", async () => {
    const a = await pool.start();
    const b = await pool.start();
    await a.t.request(b.addr, "warm-up", 5000); // connection established
    const n = 10_000;
    for (let i = 0; i < n; i++) a.t.send(b.addr, appMessage(i));
    await b.h.waitForMessages(n);
    expect(b.h.messages.map((m) => m.index)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  test("messages sent before the first connection is up are delivered in order", async () => {
    const a = await pool.start();
    const b = await pool.start();
    for (let i = 0; i < 500; i++) a.t.send(b.addr, appMessage(i));
    await b.h.waitForMessages(500);
    expect(b.h.messages.map((m) => m.index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  test("send to an unreachable or malformed address never throws", async () => {
    const a = await pool.start();
    const port = await freePort();
    expect(() => a.t.send(`127.0.0.1:${port}`, appMessage(1))).not.toThrow();
    expect(() => a.t.send("not an address", appMessage(1))).not.toThrow();
    expect(() => a.t.send("127.0.0.1:99999", appMessage(1))).not.toThrow();
    // And the transport still works.
    const b = await pool.start();
    a.t.send(b.addr, appMessage(2));
    await b.h.waitForMessages(1);
  });

  test("reconnects after the peer closes and restarts on the same port", async () => {
    const a = await pool.start();
    const b = await pool.start();
    a.t.send(b.addr, appMessage(1));
    await b.h.waitForMessages(1);
    await b.t.close();

    // While b is down, sends are queued or dropped, never thrown.
    a.t.send(b.addr, appMessage(2));
    const { port } = parseAddress(b.addr);
    const b2 = await pool.start({ bindPort: port });
    expect(b2.addr).toBe(b.addr);

    // Raft would retransmit; do the same until the re-dialled connection delivers.
    const deadline = Date.now() + 10_000;
    let i = 100;
    while (b2.h.messages.length === 0 && Date.now() < deadline) {
      a.t.send(b2.addr, appMessage(i++));
      await b2.h.signal.until(() => b2.h.messages.length > 0, 50).catch(() => {});
    }
    expect(b2.h.messages.length).toBeGreaterThan(0);
    expect(await a.t.request(b2.addr, "after-restart", 5000)).toEqual({ echo: "after-restart" });
    // Order still holds for what arrived on the new connection.
    const idx = b2.h.messages.map((m) => m.index);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
  });

  test("a message is not stuck when the handler throws", async () => {
    const a = await pool.start();
    const b = await pool.start();
    let calls = 0;
    b.h.onMessage = (m) => {
      calls++;
      if (calls === 1) throw new Error("handler bug");
      b.h.messages.push(m);
      b.h.signal.notify();
    };
    a.t.send(b.addr, appMessage(1));
    a.t.send(b.addr, appMessage(2));
    await b.h.waitForMessages(1);
    expect(b.h.messages[0]!.index).toBe(2);
  });
});

describe("TcpTransport requests", () => {
  test("request resolves with the remote handler's value, binary intact", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.requestHook = async (p) => ({ got: p, blob: new Uint8Array([1, 2, 3]) });
    const v = (await a.t.request(b.addr, { op: "x", n: 5 }, 5000)) as { got: unknown; blob: Uint8Array };
    expect(v).toEqual({ got: { op: "x", n: 5 }, blob: new Uint8Array([1, 2, 3]) });
    expect(v.blob.constructor).toBe(Uint8Array);
  });

  test("bytes are counted both ways: a 1 MiB request and its small answer", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.requestHook = async () => "ok";
    const before = [a.t.stats(), b.t.stats()];
    expect(await a.t.request(b.addr, new Uint8Array(1 << 20), 5000)).toBe("ok");
    const [sa, sb] = [a.t.stats(), b.t.stats()];
    const sent = sa.bytesSent - before[0]!.bytesSent;
    expect(sent).toBeGreaterThan(1 << 20);
    expect(sent).toBeLessThan((1 << 20) + 4096); // the payload, frame headers and the handshake's few bytes
    expect(sb.bytesReceived - before[1]!.bytesReceived).toBeGreaterThanOrEqual(sent);
    const answer = sb.bytesSent - before[1]!.bytesSent;
    expect(answer).toBeGreaterThan(0);
    expect(answer).toBeLessThan(4096);
    expect(sa.bytesReceived - before[0]!.bytesReceived).toBeGreaterThanOrEqual(answer);
  });

  test("many concurrent requests each get their own answer", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.requestHook = async (p) => (p as number) * 2;
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => a.t.request(b.addr, i, 5000)));
    expect(answers).toEqual(Array.from({ length: 1000 }, (_, i) => i * 2));
  });

  test("a remote error rejects with the remote message", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.requestHook = async () => {
      throw new Error("not the leader; try n3");
    };
    const err = await rejectsWithin(a.t.request(b.addr, "x", 5000));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.message).toBe("not the leader; try n3");
  });

  test("a request times out when no answer comes", async () => {
    const a = await pool.start();
    const b = await pool.start();
    b.h.requestHook = () => new Promise(() => {});
    const started = performance.now();
    const err = await rejectsWithin(a.t.request(b.addr, "x", 150));
    expect(err).toBeInstanceOf(TransportTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    // The connection is still good for the next request.
    b.h.requestHook = async (p) => p;
    expect(await a.t.request(b.addr, "y", 5000)).toBe("y");
  });

  test("a request rejects on connection loss, well before its timeout", async () => {
    const a = await pool.start();
    const b = await pool.start();
    const arrived = new Signal();
    let got = false;
    b.h.requestHook = () => {
      got = true;
      arrived.notify();
      return new Promise(() => {});
    };
    const pending = rejectsWithin(a.t.request(b.addr, "x", 30_000));
    await arrived.until(() => got);
    await b.t.close();
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionLostError);
  });

  test("a request to a port nobody listens on fails fast", async () => {
    const a = await pool.start();
    const port = await freePort();
    const err = await rejectsWithin(a.t.request(`127.0.0.1:${port}`, "x", 30_000));
    expect(err).toBeInstanceOf(ConnectionLostError);
  });

  test("replies go back on the connection the request came in on (requester does not listen)", async () => {
    const client = pool.create();
    const b = await pool.start();
    expect(await client.request(b.addr, "hi", 5000)).toEqual({ echo: "hi" });
  });
});

describe("TcpTransport robustness", () => {
  test("an oversize frame drops that connection only", async () => {
    const a = await pool.start();
    const b = await pool.start({ maxFrameBytes: 1024 * 1024 });
    const raw = await rawConnect(b.addr);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 2 * 1024 * 1024, false);
    raw.socket.write(header);
    await raw.closed;
    a.t.send(b.addr, appMessage(1));
    await b.h.waitForMessages(1);
  });

  test("garbage bytes (an HTTP request) drop the connection; others are served", async () => {
    const a = await pool.start();
    const b = await pool.start();
    a.t.send(b.addr, appMessage(1));
    await b.h.waitForMessages(1);
    const raw = await rawConnect(b.addr);
    raw.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.closed;
    const raw2 = await rawConnect(b.addr);
    raw2.socket.write(new Uint8Array([0, 0, 0, 6, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]));
    await raw2.closed;
    a.t.send(b.addr, appMessage(2));
    await b.h.waitForMessages(2);
    expect(b.h.messages.map((m) => m.index)).toEqual([1, 2]);
  });

  test("a malformed message after a valid handshake drops the connection before reaching the handler", async () => {
    const b = await pool.start();
    const raw = await rawConnect(b.addr);
    raw.socket.write(encodeFrame({ k: "hello", v: PROTOCOL_VERSION, addr: "raw" }));
    const { pack } = await import("msgpackr");
    const bad = pack({ k: "msg", m: { ...appMessage(1), term: -1 } });
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, bad.byteLength, false);
    raw.socket.write(Buffer.concat([header, bad]));
    await raw.closed;
    expect(b.h.messages).toHaveLength(0);
  });

  test("a silent connection is dropped after the handshake deadline", async () => {
    const b = await pool.start({ connectTimeoutMs: 200 });
    const raw = await rawConnect(b.addr);
    await raw.closed;
    // The challenge was offered first.
    expect(raw.decoder.next()?.k).toBe("challenge");
  });

  test("close() rejects pending requests and resolves promptly", async () => {
    const a = await pool.start();
    const b = await pool.start();
    let arrived = false;
    b.h.requestHook = () => {
      arrived = true;
      b.h.signal.notify();
      return new Promise(() => {});
    };
    const pending = rejectsWithin(a.t.request(b.addr, "x", 60_000));
    const queued = rejectsWithin(a.t.request("127.0.0.1:1", "never sent", 60_000));
    await b.h.signal.until(() => arrived);
    a.t.send(b.addr, appMessage(1));
    const started = performance.now();
    await a.t.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(TransportClosedError);
    expect(await queued).toBeInstanceOf(Error);
    expect(() => a.t.send(b.addr, appMessage(2))).not.toThrow();
    expect(await rejectsWithin(a.t.request(b.addr, "x", 1000))).toBeInstanceOf(TransportClosedError);
  });

  test("a process exits on its own after close() (no timers or sockets left behind)", async () => {
    const proc = Bun.spawn([process.execPath, `${import.meta.dir}/fixtures/exit-after-close.ts`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const started = performance.now();
    const killer = setTimeout(() => proc.kill(), 10_000);
    const code = await proc.exited;
    clearTimeout(killer);
    // Well under the 5 s connect timeout a lingering dial would hold the process for.
    expect(performance.now() - started).toBeLessThan(3000);
    const out = await new Response(proc.stdout).text();
    expect(out.trim()).toBe("closed");
    expect(code).toBe(0);
  });
});

describe("TcpTransport cluster secret", () => {
  test("a wrong or missing secret is refused; the right one is heard", async () => {
    const b = await pool.start({ secret: "correct horse" });
    const wrong = pool.create({ secret: "battery staple" });
    const none = pool.create();
    const right = pool.create({ secret: "correct horse" });

    wrong.send(b.addr, appMessage(1));
    const e1 = await rejectsWithin(wrong.request(b.addr, "x", 5000));
    expect(e1).toBeInstanceOf(ConnectionLostError);
    expect(e1.message).toContain("bad cluster secret");

    none.send(b.addr, appMessage(2));
    const e2 = await rejectsWithin(none.request(b.addr, "x", 5000));
    expect(e2.message).toContain("bad cluster secret");

    right.send(b.addr, appMessage(3));
    expect(await right.request(b.addr, "x", 5000)).toEqual({ echo: "x" });
    await b.h.waitForMessages(1);
    expect(b.h.messages.map((m) => m.index)).toEqual([3]);
  });

  test("transports with the same secret talk both ways", async () => {
    const a = await pool.start({ secret: "s" });
    const b = await pool.start({ secret: "s" });
    a.t.send(b.addr, appMessage(1));
    b.t.send(a.addr, appMessage(2));
    await Promise.all([a.h.waitForMessages(1), b.h.waitForMessages(1)]);
    expect(a.h.messages[0]!.index).toBe(2);
    expect(b.h.messages[0]!.index).toBe(1);
  });
});

test("TcpTransport listens on an ephemeral port of 127.0.0.1 by default", async () => {
  const t = pool.create();
  const addr = await t.listen(new RecordingHandler());
  expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(parseAddress(addr).port).toBeGreaterThan(0);
  expect(t).toBeInstanceOf(TcpTransport);
});
