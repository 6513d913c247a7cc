// The client library's putFile: a small file goes out as OPEN, WRITE and CLOSE in one round trip.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { FileApiClient } from "../../src/fileapi/client.ts";
import { type FileApiServer, startFileApi } from "../../src/fileapi/server.ts";
import { errorCode, InProcessCluster } from "./harness.ts";

const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const code = errorCode;

/**
 * A stand-in server: collects requests (a WRITE with its payload) and hands each batch seen so far to
 * `answer`, which returns the reply lines to send (possibly none yet).
 */
async function fakeServer(
  answer: (requests: string[]) => string[],
): Promise<{ address: string; requests: string[]; close: () => void }> {
  const requests: string[] = [];
  const srv = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const nl = buf.indexOf(10);
        if (nl < 0) break;
        const line = buf.subarray(0, nl).toString();
        const m = /^WRITE \S+ \S+ (\d+)$/.exec(line);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < nl + 1 + len) break;
        requests.push(len > 0 ? `${line} ${buf.subarray(nl + 1, nl + 1 + len).toString()}` : line);
        buf = buf.subarray(nl + 1 + len);
      }
      for (const r of answer(requests)) sock.write(`${r}\n`);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    requests,
    close: () => srv.close(),
  };
}

describe("putFile against a stand-in server", () => {
  test("a small file's OPEN, WRITE and CLOSE are sent before any reply", async () => {
    let replied = false;
    // Replies only once all three requests are in: a client that waited for OPEN's reply would hang.
    const s = await fakeServer((reqs) => {
      if (replied || reqs.length < 3) return [];
      replied = true;
      return ["OK 1 0 0", "OK 5", "OK 5 abc 7"];
    });
    const cl = await FileApiClient.connect(s.address);
    const done = await cl.putFile("a.txt", enc.encode("hello"));
    expect(done).toEqual({ size: 5, hash: "abc", version: 7 });
    expect(s.requests).toEqual(["OPEN a.txt w", "WRITE 1 0 5 hello", "CLOSE 1"]);
    cl.destroy();
    s.close();
  });

  test("a server that numbers handles otherwise: the guessed handle fails alone, the file goes the usual way", async () => {
    const s = await fakeServer((reqs) => {
      const last = reqs.at(-1)!;
      if (reqs.length === 3 && last === "CLOSE 1")
        return ["OK 7 0 0", "ERR EBADF no open handle 1", "ERR EBADF no open handle 1"];
      if (last.startsWith("WRITE 7")) return ["OK 5"];
      if (last === "CLOSE 7") return ["OK 5 def 9"];
      return [];
    });
    const cl = await FileApiClient.connect(s.address);
    expect(await cl.putFile("b.txt", enc.encode("world"))).toEqual({ size: 5, hash: "def", version: 9 });
    expect(s.requests).toEqual([
      "OPEN b.txt w",
      "WRITE 1 0 5 world",
      "CLOSE 1",
      "WRITE 7 0 5 world",
      "CLOSE 7",
    ]);
    cl.destroy();
    s.close();
  });
});

describe("putFile against a real node", () => {
  let c: InProcessCluster;
  let server: FileApiServer;
  beforeAll(async () => {
    c = await InProcessCluster.start(1);
    // One handle per connection: a handle a failed put left open would make the next put fail (ELIMIT).
    server = await startFileApi(c.nodes[0]!.backend, {
      port: 0,
      limits: { maxFileBytes: 4096, maxHandlesPerConnection: 1 },
    });
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    await c?.destroy();
  });

  test("failures commit nothing and leave no handle behind", async () => {
    const cl = await FileApiClient.connect(server.address);
    await cl.putFile("dir/keep.txt", enc.encode("kept"));
    expect(await code(cl.putFile("dir", enc.encode("x")))).toBe("EISDIR"); // OPEN fails
    expect(await code(cl.putFile("dir/keep.txt", new Uint8Array(5000)))).toBe("ETOOBIG"); // WRITE fails
    expect(text(await cl.readFile("dir/keep.txt"))).toBe("kept"); // the truncating OPEN w never committed
    expect(await code(cl.putFile("dir/keep.txt", enc.encode("x"), { mode: "a" }))).toBe("resolved");
    expect(text(await cl.readFile("dir/keep.txt"))).toBe("keptx");
    const empty = await cl.putFile("dir/empty.txt", new Uint8Array(0));
    expect(empty.size).toBe(0);
    cl.destroy();
  });

  test("puts issued at once on one connection all commit their own bytes", async () => {
    const cl = await FileApiClient.connect(c.address());
    const names = Array.from({ length: 20 }, (_, i) => `many/f${i}.txt`);
    await Promise.all(names.map((n) => cl.putFile(n, enc.encode(`content of ${n}`))));
    for (const n of names) expect(text(await cl.readFile(n))).toBe(`content of ${n}`);
    cl.destroy();
  });
});
