// End to end: the compiled binary's TUI under tmux, attached to a real 3-node cluster. A file written in
// node2's folder must appear with one hash agreed by all three nodes; after the leader is killed the new
// leader must appear on screen. Synchronisation is by polling capture-pane with a deadline.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { BINARY, TestCluster, waitFor } from "../integration/helpers/cluster.ts";

const TMUX = Bun.which("tmux");
const SOCKET = `pickbox-tui-e2e-${process.pid}`;
const SESSION = "tui";

if (!TMUX && process.env.CI) {
  test("tmux is required for the TUI end-to-end test", () => {
    throw new Error(
      "tmux not found on PATH: install it (apt-get install -y tmux) to run tests/tui/tui-e2e.test.ts",
    );
  });
}
if (!TMUX && !process.env.CI) {
  console.warn("note: tmux not found; skipping the TUI end-to-end test (apt-get install -y tmux to run it)");
}

/** Runs tmux on this test's private server socket (never the user's server). */
function tmux(...args: string[]): { ok: boolean; out: string } {
  const r = Bun.spawnSync([TMUX!, "-L", SOCKET, "-f", "/dev/null", ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  return { ok: r.exitCode === 0, out: r.stdout.toString() + r.stderr.toString() };
}

function screen(): string {
  return tmux("capture-pane", "-p", "-t", SESSION).out;
}

async function screenWhere(what: string, check: (s: string) => unknown, timeoutMs = 30_000): Promise<string> {
  let last = "";
  try {
    return await waitFor(
      what,
      () => {
        last = screen();
        return check(last) ? last : false;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- screen ---\n${last}`);
  }
}

describe.skipIf(!TMUX)("pickbox tui under tmux (compiled binary, 3 real nodes)", () => {
  let c: TestCluster;
  const pids: number[] = [];

  beforeAll(async () => {
    c = await TestCluster.start({ size: 3 });
  }, 60_000);

  afterAll(async () => {
    // Only while our session still exists are its PIDs ours (afterwards they could be reused).
    if (tmux("has-session", "-t", SESSION).ok) {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    tmux("kill-session", "-t", SESSION);
    tmux("kill-server");
    await c?.destroy();
  });

  test("shows a file written on node2 agreed by all three nodes, then the new leader after a kill", async () => {
    const addr = `127.0.0.1:${c.node(0).adminPort}`;
    // CI (set when the suite runs in CI) reaches the pane on purpose: on a terminal the UI must be live anyway.
    const cmd = `env NO_COLOR=1 LANG=C.UTF-8 TERM=xterm-256color ${BINARY} tui --addr ${addr} --poll 300`;
    const started = tmux("-u", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", cmd);
    expect(started.ok).toBe(true);
    const panePid = Number(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").out.trim());
    if (panePid > 0) pids.push(panePid);

    await screenWhere(
      "three members on screen",
      (s) => s.includes("3 members: 3 voters") && /node3 +127\.0\.0\.1/.test(s),
    );

    const name = `e2e-${process.pid}.txt`;
    const content = `written on node2 at ${new Date().toISOString()}\n`;
    writeFileSync(path.join(c.folder(1), name), content);
    const h = createHash("sha256").update(content).digest("hex").slice(0, 12);
    const agreed = new RegExp(`${name.replace(".", "\\.")} +\\d+ B ${h} ${h} ${h} ✓ agreed`);
    const s1 = await screenWhere(`${name} with hash ${h} on node1, node2 and node3`, (s) => agreed.test(s));
    expect(s1).toMatch(/PATH +SIZE node1 +node2 +node3 +ALL NODES/);
    // The replication feed shows the put from node2 reaching all three.
    await screenWhere("the put in the feed, 3/3", (s) =>
      new RegExp(`put +${name.replace(".", "\\.")} +node2 .* 3/3`).test(s),
    );

    const old = await c.leaderIndex();
    const oldId = c.node(old).id;
    await c.kill(old);
    const s2 = await screenWhere(
      "a new leader in the header",
      (s) => {
        const m = /leader (node\d)\s/.exec(s.split("\n")[1] ?? "");
        return m && m[1] !== oldId;
      },
      30_000,
    );
    const shown = /leader (node\d)\s/.exec(s2.split("\n")[1]!)![1]!;
    const actual = c.node(await c.leaderIndex()).id;
    expect(shown).toBe(actual);
    if (process.env.PICKBOX_TUI_CAPTURE) writeFileSync(process.env.PICKBOX_TUI_CAPTURE, `${s1}\n----\n${s2}`);
    // The dead leader is shown down, and files stay agreed on the two that are left.
    await screenWhere(`${oldId} down in the peers table`, (s) =>
      new RegExp(`${oldId}\\*? +127\\.0\\.0\\.1:\\d+ +voter +down`).test(s),
    );
    await screenWhere(`${name} agreed 2/3`, (s) => new RegExp(`${name.replace(".", "\\.")} .*✓ 2/3`).test(s));

    // q quits: the pane's process exits and tmux drops the session.
    tmux("send-keys", "-t", SESSION, "q");
    await waitFor("the TUI to exit on q", () => !tmux("has-session", "-t", SESSION).ok, 10_000, 50);
  }, 120_000);
});
