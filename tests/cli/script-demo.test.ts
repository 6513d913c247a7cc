// `pickbox script demo-3-nodes` under a pseudo-terminal (util-linux `script`), stopped with Ctrl-C and with
// SIGTERM, and `pickbox script cleanup` stopping orphaned nodes by their PID files.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { portArgs, schemaPorts } from "../scripts/helpers/ports.ts";
import { alive, BINARY, killRecorded, recordedPids, run } from "../scripts/helpers/run.ts";

const dirs: string[] = [];
const procs: Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of dirs) killRecorded(d);
});

function tempDataDir(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "pickbox-demo-"));
  dirs.push(root);
  return path.join(root, "data");
}

async function demoArgs(dataDir: string): Promise<string[]> {
  const p = await schemaPorts(3);
  const a = portArgs(p);
  // cluster_manager's -a/-m/-d spellings → the demo's long options
  return [
    "--data-dir",
    dataDir,
    "script",
    "demo-3-nodes",
    "--port",
    a[1]!,
    "--admin-port",
    a[3]!,
    "--monitor-port",
    a[5]!,
    "--client-port",
    a[7]!,
    "--dashboard-port",
    a[9]!,
  ];
}

/** Collects a child's stdout as text, so a test can wait for a marker. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let buf = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) buf += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => buf, done };
}

/** Waits for the output to satisfy `done`; fails at once, with the output, if the process exits first. */
async function waitOutput(
  proc: Subprocess,
  out: { text: () => string },
  done: (text: string) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done(out.text())) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before ${what}; output:\n${out.text()}`);
    }
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}; output:\n${out.text()}`);
    await Bun.sleep(50);
  }
}

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe("pickbox script demo-3-nodes", () => {
  const hasScript = Bun.which("script") !== null;

  test.skipIf(!hasScript)(
    "on a terminal: the live TUI shows the cluster, PID files written, Ctrl-C stops every node",
    async () => {
      const dataDir = tempDataDir();
      const cmd = [BINARY, ...(await demoArgs(dataDir))].map(shq).join(" ");
      const proc = Bun.spawn(["script", "-qfec", cmd, "/dev/null"], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, TERM: "xterm", NO_COLOR: "1" },
      });
      procs.push(proc);
      const out = collect(proc.stdout);
      // The Ink TUI, attached through node1: header with the leader, a peers table with all three.
      await waitOutput(
        proc,
        out,
        (t) => {
          const plain = t.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
          return (
            /cluster: 3 members: 3 voters/.test(plain) &&
            /node1 +Leader +term \d+ +leader node1/.test(plain) &&
            /node3\s+127\.0\.0\.1:\d+\s+voter\s+Follower/.test(plain)
          );
        },
        "the TUI showing a 3-node cluster led by node1",
      );

      const pids = recordedPids(dataDir);
      expect(pids.map((p) => p.id).sort()).toEqual(["node1", "node2", "node3"]);
      expect(pids.every((p) => alive(p.pid))).toBe(true);

      proc.stdin.write("\x03");
      proc.stdin.flush();
      expect(await proc.exited).toBe(0);
      await out.done;
      // Raw mode turns Ctrl-C into a key; the TUI treats it as quit and the demo stops its nodes.
      expect(out.text()).toContain("🛑 TUI closed: stopping 3 node(s)...");
      expect(out.text()).toContain(`✅ All nodes stopped (data kept in ${dataDir})`);
      for (const p of pids) expect(alive(p.pid)).toBe(false);
      expect(recordedPids(dataDir)).toEqual([]);
      expect(existsSync(path.join(dataDir, "node1", ".pickbox"))).toBe(true);
    },
    90_000,
  );

  test("without a terminal: one status screen, a second demo on the same data dir is refused, SIGTERM stops all", async () => {
    const dataDir = tempDataDir();
    const args = await demoArgs(dataDir);
    const proc = Bun.spawn([BINARY, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    procs.push(proc);
    const out = collect(proc.stdout);
    await waitOutput(proc, out, (t) => t.includes("Press Ctrl-C to stop every node."), "the status screen");
    expect(out.text()).toContain("🚀 Starting 3-node cluster demo...");
    expect(out.text()).toMatch(/✅ Node node1 started \(PID: \d+\)/);
    expect(out.text()).not.toContain("\x1b[2J");
    const pids = recordedPids(dataDir);
    expect(pids.length).toBe(3);

    const second = await run([BINARY, ...args]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`nodes started under ${dataDir} are still running`);

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await out.done;
    expect(out.text()).toContain("🛑 terminated: stopping 3 node(s)...");
    for (const p of pids) expect(alive(p.pid)).toBe(false);
  }, 90_000);
});

test("a port already in use is reported before any node starts", async () => {
  const dataDir = tempDataDir();
  const args = await demoArgs(dataDir);
  const adminPort = Number(args[args.indexOf("--admin-port") + 1]) + 1;
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(adminPort, "127.0.0.1", resolve));
  try {
    const r = await run([BINARY, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`ports in use by another process: ${adminPort} (node2 admin port)`);
    expect(recordedPids(dataDir)).toEqual([]);
  } finally {
    blocker.close();
  }
});

describe("pickbox script cleanup", () => {
  test("stops nodes left running by a killed demo (by PID file), leaves a foreign PID alone, removes the data", async () => {
    const dataDir = tempDataDir();
    const proc = Bun.spawn([BINARY, ...(await demoArgs(dataDir))], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    procs.push(proc);
    const out = collect(proc.stdout);
    await waitOutput(proc, out, (t) => t.includes("Cluster is up"), "the demo to be up");
    proc.kill("SIGKILL"); // the demo dies without stopping its nodes
    await proc.exited;
    const pids = recordedPids(dataDir);
    expect(pids.length).toBe(3);
    expect(pids.every((p) => alive(p.pid))).toBe(true);
    // A stale PID file naming a process that is not a Pickbox node (this test runner).
    writeFileSync(path.join(dataDir, "pids", "node9.pid"), `${process.pid}\n`);

    const r = await run([BINARY, "--data-dir", dataDir, "script", "cleanup"]);
    expect(r.code, r.stderr).toBe(0);
    for (const id of ["node1", "node2", "node3"])
      expect(r.stdout).toMatch(new RegExp(`stopped ${id} \\(pid \\d+\\)`));
    expect(r.stdout).toContain(`node9: pid ${process.pid} is now another program; left alone`);
    expect(r.stdout).toContain("✅ Cleanup completed");
    for (const p of pids) expect(alive(p.pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  }, 90_000);

  test("refuses to delete a directory that contains the current directory", async () => {
    const r = await run([BINARY, "--data-dir", ".", "script", "cleanup"], { cwd: os.tmpdir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to delete");
  });
});
