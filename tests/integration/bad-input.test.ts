// Hostile and malformed input on a real node: every request gets an ERROR line (or a timeout), nothing
// is written outside the folder, and the node keeps serving. Also the README's `echo STATUS | nc`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { admin, parseKeyValues, TestCluster } from "./helpers/cluster.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const forward = (json: object) => `FORWARD ${JSON.stringify(json)}`;

describe("bad input against a running node", () => {
  let c: TestCluster;
  let outside: string;
  let port: number;

  beforeAll(async () => {
    c = await TestCluster.start({ size: 1 });
    port = c.node(0).adminPort;
    outside = mkdtempSync(path.join(os.tmpdir(), "pickbox-outside-"));
    symlinkSync(outside, path.join(c.folder(0), "escape"));
  }, 60_000);
  afterAll(async () => {
    await c?.destroy();
    rmSync(outside, { recursive: true, force: true });
  });

  async function stillServing(): Promise<void> {
    const st = parseKeyValues(await admin(port, "STATUS"));
    expect(st.state).toBe("Leader");
  }

  test("hostile paths are refused before they reach the log", async () => {
    for (const p of [
      "../../x",
      "../outside.txt",
      "/etc/passwd",
      ".pickbox/state.db",
      "a/../../b",
      "escape/evil.txt",
    ]) {
      const reply = await admin(port, forward({ op: "write", path: p, data: b64("pwned") }));
      expect(reply.startsWith("ERROR: ")).toBe(true);
      expect(reply.endsWith("\n")).toBe(true);
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(path.join(c.dataDir, "x"))).toBe(false);
    expect(existsSync(path.join(c.dataDir, "outside.txt"))).toBe(false);
    await stillServing();
  }, 30_000);

  test("invalid base64, a hash that does not match, unknown op, broken JSON", async () => {
    const replies = await Promise.all([
      admin(port, forward({ op: "write", path: "a.txt", data: "not base64!!" })),
      admin(port, forward({ op: "write", path: "a.txt", data: b64("abc"), hash: "0".repeat(64) })),
      admin(port, forward({ op: "chmod", path: "a.txt" })),
      admin(port, 'FORWARD {"op":"write","path":}'),
      admin(port, "FORWARD no json here"),
      admin(port, "ADD_VOTER only-one-arg"),
      admin(port, "NOT_A_COMMAND"),
    ]);
    for (const r of replies) expect(r).toMatch(/^ERROR: .+\n$/);
    expect(replies[6]).toBe("ERROR: Unknown command\n");
    expect(existsSync(path.join(c.folder(0), "a.txt"))).toBe(false);
    await stillServing();
  }, 30_000);

  test("10 MB of garbage gets an ERROR line and the node keeps serving", async () => {
    const garbage = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    const reply = await rawSend(port, garbage, 15_000);
    expect(reply).toMatch(/^ERROR: /);
    await stillServing();
  }, 30_000);

  test("a connection that sends half a line and stays open is timed out; others are served meanwhile", async () => {
    const sock = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write("ADD_VOT");
    const reply = new Promise<string>((resolve) => {
      let buf = "";
      sock.on("data", (d) => {
        buf += d.toString();
      });
      sock.on("close", () => resolve(buf));
    });
    await stillServing(); // not blocked by the half-open client
    expect(await reply).toMatch(/^ERROR: timeout/);
  }, 30_000);

  test("a large FORWARD (3 MiB, far past the original's 4096-byte read) is applied whole", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, "z");
    const reply = await admin(
      port,
      forward({ op: "write", path: "big/forwarded.bin", data: big.toString("base64") }),
      30_000,
    );
    expect(reply).toBe("OK\n");
    const onDisk = await Bun.file(path.join(c.folder(0), "big/forwarded.bin")).arrayBuffer();
    expect(Buffer.from(onDisk).equals(big)).toBe(true);
  }, 60_000);

  test("`echo STATUS | nc` prints the node's status (the real netcat)", async () => {
    const nc = Bun.which("nc");
    if (!nc) {
      if (process.env.CI)
        throw new Error("nc (netcat-openbsd) is required in CI: scripts/ensure_tools.sh installs it");
      console.warn("skipping: nc is not installed");
      return;
    }
    const proc = Bun.spawn(["bash", "-c", `echo STATUS | timeout 5 nc 127.0.0.1 ${port}`], {
      stdout: "pipe",
    });
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    const st = parseKeyValues(out);
    expect(st.node).toBe("node1");
    expect(st.state).toBe("Leader");
    expect(Number(st.commit_index)).toBeGreaterThan(0);
  }, 30_000);

  test("a path that cannot be replicated is skipped; the folder stays the source of truth", async () => {
    mkdirSync(path.join(c.folder(0), "ok-dir"));
    await Bun.write(path.join(c.folder(0), "ok-dir/fine.txt"), "fine");
    const files = await waitForFile(port, "ok-dir/fine.txt");
    expect(files).toContain("ok-dir/fine.txt");
    expect(readdirSync(outside)).toEqual([]);
  }, 30_000);
});

function rawSend(port: number, data: Buffer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("no reply"));
    }, timeoutMs);
    sock.on("connect", () => sock.write(data));
    sock.on("data", (d) => {
      buf += d.toString();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

async function waitForFile(port: number, rel: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const files = await admin(port, "FILES");
    if (files.includes(rel)) return files;
    await Bun.sleep(25);
  }
  throw new Error(`${rel} never appeared in FILES`);
}
