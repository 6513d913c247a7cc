import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import {
  AdminClientError,
  adminAddressForRaft,
  adminRequest,
  parseHostPort,
  subscribe,
} from "../../src/admin/admin-client.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A raw server whose per-connection behaviour the test scripts (to imitate the original and odd peers). */
async function rawServer(onConn: (s: net.Socket, received: () => string) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    let got = "";
    s.on("data", (d) => {
      got += d.toString();
    });
    onConn(s, () => got);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("addresses", () => {
  test("parseHostPort", () => {
    expect(parseHostPort("127.0.0.1:9001")).toEqual({ host: "127.0.0.1", port: 9001 });
    expect(parseHostPort("localhost:1")).toEqual({ host: "localhost", port: 1 });
    expect(parseHostPort("[::1]:9001")).toEqual({ host: "::1", port: 9001 });
    expect(parseHostPort(":9001")).toEqual({ host: "127.0.0.1", port: 9001 });
    for (const bad of ["9001", "host:", "host:0", "host:70000", "a:b:1", "host:port"]) {
      expect(() => parseHostPort(bad)).toThrow(/invalid address/);
    }
  });

  test("adminAddressForRaft: same host, port + 1000 (the original's join rule)", () => {
    expect(adminAddressForRaft("127.0.0.1:8001")).toBe("127.0.0.1:9001");
    expect(adminAddressForRaft("10.0.0.5:18003")).toBe("10.0.0.5:19003");
    expect(adminAddressForRaft("[::1]:8002")).toBe("[::1]:9002");
    expect(() => adminAddressForRaft("127.0.0.1:65000")).toThrow(/exceeds 65535/);
    expect(() => adminAddressForRaft("nonsense")).toThrow(/invalid address/);
  });
});

describe("adminRequest", () => {
  test("sends the command with a trailing newline, resolves with everything until close", async () => {
    let seen = "";
    const port = await rawServer((s, received) => {
      s.on("data", () => {
        if (received().endsWith("\n")) {
          seen = received();
          s.end("line one\nline two\n");
        }
      });
    });
    expect(await adminRequest(`127.0.0.1:${port}`, "STATUS")).toBe("line one\nline two\n");
    expect(seen).toBe("STATUS\n");
  });

  test("with a secret the command goes out as AUTH <secret> <command>", async () => {
    let seen = "";
    const port = await rawServer((s, received) => {
      s.on("data", () => {
        seen = received();
        s.end("OK\n");
      });
    });
    await adminRequest(`127.0.0.1:${port}`, "REMOVE n2", { secret: "k" });
    expect(seen).toBe("AUTH k REMOVE n2\n");
  });

  test("connection refused → a clear AdminClientError", async () => {
    const port = await closedPort();
    const err = await adminRequest(`127.0.0.1:${port}`, "STATUS").catch((e) => e);
    expect(err).toBeInstanceOf(AdminClientError);
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.message).toBe(
      `cannot connect to admin port 127.0.0.1:${port}: connection refused (is the node running?)`,
    );
  });

  test("a server that never answers → timeout error", async () => {
    const port = await rawServer(() => {});
    const t0 = performance.now();
    const err = await adminRequest(`127.0.0.1:${port}`, "STATUS", { timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(AdminClientError);
    expect(err.code).toBe("ETIMEDOUT");
    expect(err.message).toBe(`admin request to 127.0.0.1:${port} timed out after 200 ms`);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test("an oversized reply is refused", async () => {
    const port = await rawServer((s) => s.end(Buffer.alloc(4096, "a")));
    const err = await adminRequest(`127.0.0.1:${port}`, "FILES", { maxReplyBytes: 1000 }).catch((e) => e);
    expect(err.code).toBe("EREPLYTOOLARGE");
  });

  test("a server that closes without a reply (the original on a failed read) gives an empty string", async () => {
    const port = await rawServer((s) => s.end());
    expect(await adminRequest(`127.0.0.1:${port}`, "STATUS")).toBe("");
  });
});

describe("subscribe", () => {
  test("parses JSON lines split across segments and reports bad lines and errors", async () => {
    const port = await rawServer((s) => {
      s.once("data", async () => {
        s.write('{"type":"hello","node":"n1"}\n{"type":"ap');
        await Bun.sleep(20);
        s.write('ply","path":"a"}\nnot json\nERROR: nope\n');
        s.end();
      });
    });
    const events: Record<string, unknown>[] = [];
    const errors: string[] = [];
    const sub = subscribe(`127.0.0.1:${port}`, (e) => events.push(e), {
      onError: (e) => errors.push(e.message),
    });
    await sub.closed;
    expect(events).toEqual([
      { type: "hello", node: "n1" },
      { type: "apply", path: "a" },
    ]);
    expect(errors.length).toBe(2);
    expect(errors[1]).toBe("ERROR: nope");
  });

  test("connection refused is reported through onError and closed resolves", async () => {
    const port = await closedPort();
    const errors: Error[] = [];
    const sub = subscribe(`127.0.0.1:${port}`, () => {}, { onError: (e) => errors.push(e) });
    await sub.closed;
    expect((errors[0] as AdminClientError).code).toBe("ECONNREFUSED");
  });
});
