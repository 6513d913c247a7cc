import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import {
  isNodeProcess,
  pidFile,
  readPidFiles,
  stopNodeProcess,
  writePidFile,
} from "../../src/cli/run-files.ts";

const procs: Subprocess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A bash process whose argv looks like `... node multi --node-id <id>` (the `; true` keeps bash from exec'ing). */
function fakeNode(id: string, script = "sleep 30; true"): Subprocess {
  const p = Bun.spawn(["bash", "-c", script, "pickbox", "node", "multi", "--node-id", id], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  procs.push(p);
  return p;
}

describe("PID files", () => {
  test("written as <data-dir>/pids/<id>.pid and read back; malformed files are skipped", () => {
    const d = mkdtempSync(path.join(os.tmpdir(), "pickbox-pids-"));
    dirs.push(d);
    writePidFile(d, "node2", 4242);
    writePidFile(d, "node1", 4241);
    writeFileSync(path.join(d, "pids", "junk.pid"), "not a pid\n");
    writeFileSync(path.join(d, "pids", "notes.txt"), "123\n");
    expect(pidFile(d, "node1")).toBe(path.join(d, "pids", "node1.pid"));
    expect(readPidFiles(d).map(({ nodeId, pid }) => [nodeId, pid])).toEqual([
      ["node1", 4241],
      ["node2", 4242],
    ]);
    expect(readPidFiles(path.join(d, "missing"))).toEqual([]);
  });
});

describe("stopping by PID", () => {
  test("a process is recognised as node X only with `node multi|start` and `--node-id X` in its argv", async () => {
    const p = fakeNode("node7");
    await Bun.sleep(50);
    expect(isNodeProcess(p.pid, "node7")).toBe(true);
    expect(isNodeProcess(p.pid, "node1")).toBe(false);
    const sleeper = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    procs.push(sleeper);
    expect(isNodeProcess(sleeper.pid, "node7")).toBe(false);
  });

  test("SIGTERM stops the node; a PID now owned by another program is left alone; a gone PID is reported", async () => {
    const node = fakeNode("node3");
    await Bun.sleep(50);
    expect(await stopNodeProcess(node.pid, "node3", 5_000)).toBe("stopped");
    expect(await node.exited).not.toBe(0);

    const other = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    procs.push(other);
    expect(await stopNodeProcess(other.pid, "node3", 100)).toBe("not-ours");
    expect(other.exitCode).toBeNull();

    expect(await stopNodeProcess(node.pid, "node3", 100)).toBe("not-running");
  });

  test("a node that ignores SIGTERM is killed after the grace period", async () => {
    const stubborn = fakeNode("node4", "trap '' TERM; while :; do sleep 0.05; done");
    await Bun.sleep(100);
    const t0 = performance.now();
    expect(await stopNodeProcess(stubborn.pid, "node4", 300)).toBe("killed");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    await stubborn.exited;
    expect(stubborn.signalCode).toBe("SIGKILL");
  });
});
