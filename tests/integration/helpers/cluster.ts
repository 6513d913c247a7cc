import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type Subprocess, spawn } from "bun";

export const BINARY = path.resolve(import.meta.dir, "../../../bin/pickbox");
/**
 * PICKBOX_PROFILE_DIR=<dir>: run the nodes from source under `bun --cpu-prof` instead of the binary;
 * each node writes a .cpuprofile there when the cluster stops (gracefully, for that reason).
 */
const PROFILE_DIR = process.env.PICKBOX_PROFILE_DIR;
const NODE_COMMAND = PROFILE_DIR
  ? [
      process.execPath,
      "--cpu-prof",
      `--cpu-prof-dir=${path.resolve(PROFILE_DIR)}`,
      path.resolve(import.meta.dir, "../../../src/cli/main.ts"),
    ]
  : [BINARY];

/** Every process any test started, so a crashed test still kills them (by PID) at exit. */
const live = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** Ports that are free right now (bound to :0 then released). Distinct across the whole test run. */
const handedOut = new Set<number>();
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      out.push(port);
    }
  }
  return out;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v as T;
    } catch (err) {
      lastErr = err;
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ""}`,
  );
}

/** One admin command, one connection (the protocol's rule). */
export function admin(port: number, line: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`admin ${line.slice(0, 40)} on ${port}: timeout`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(`${line}\n`));
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (m && !(m[1]! in out)) out[m[1]!] = m[2]!;
  }
  return out;
}

export interface NodeHandle {
  id: string;
  raftPort: number;
  adminPort: number;
  monitorPort: number;
  clientPort: number;
  /** Shared by every node of the cluster (one dashboard per host: the first node to bind it serves). */
  dashboardPort: number;
  folder: string;
  proc: Subprocess | null;
  args: string[];
}

export interface ClusterOptions {
  size: number;
  extraArgs?: string[];
  /** Pass --max-voters. */
  maxVoters?: number;
}

/** A real cluster of compiled `pickbox node multi` processes on 127.0.0.1 with ephemeral ports. */
export class TestCluster {
  readonly nodes: NodeHandle[] = [];
  readonly dataDir: string;

  private constructor(private readonly o: ClusterOptions) {
    this.dataDir = mkdtempSync(path.join(os.tmpdir(), "pickbox-it-"));
  }

  static async start(o: ClusterOptions): Promise<TestCluster> {
    const c = new TestCluster(o);
    try {
      await c.launch();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  node(i: number): NodeHandle {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  }

  private async launch(): Promise<void> {
    for (let i = 0; i < this.o.size; i++) {
      const [raftPort, adminPort, monitorPort, clientPort, ownDashboardPort] = await freePorts(5);
      // One dashboard per host: every node gets node1's port, as the scripts give every node 8080.
      const dashboardPort = this.nodes[0]?.dashboardPort ?? ownDashboardPort!;
      const id = `node${i + 1}`;
      const args = [
        "node",
        "multi",
        "--node-id",
        id,
        "--port",
        String(raftPort),
        "--admin-port",
        String(adminPort),
        "--monitor-port",
        String(monitorPort),
        "--client-port",
        String(clientPort),
        "--dashboard-port",
        String(dashboardPort),
        "--data-dir",
        this.dataDir,
        "--no-tui",
        ...(this.o.maxVoters ? ["--max-voters", String(this.o.maxVoters)] : []),
        ...(this.o.extraArgs ?? []),
      ];
      if (i > 0) args.push("--join", `127.0.0.1:${this.nodes[0]!.raftPort}`);
      const handle: NodeHandle = {
        id,
        raftPort: raftPort!,
        adminPort: adminPort!,
        monitorPort: monitorPort!,
        clientPort: clientPort!,
        dashboardPort,
        folder: path.join(this.dataDir, id),
        proc: null,
        args,
      };
      this.nodes.push(handle);
      this.spawnNode(handle);
      if (i === 0) await waitFor("node1 to lead", async () => (await this.status(0)).state === "Leader");
    }
    await this.waitMembers(this.o.size);
  }

  spawnNode(n: NodeHandle): void {
    const proc = spawn([...NODE_COMMAND, ...n.args], {
      stdout: "ignore",
      stderr: Bun.file(path.join(this.dataDir, `${n.id}.stderr.log`)),
      stdin: "ignore",
      env: { ...process.env, NO_COLOR: "1" },
    });
    live.add(proc);
    n.proc = proc;
  }

  async status(i: number): Promise<Record<string, string>> {
    return parseKeyValues(await admin(this.node(i).adminPort, "STATUS", 3000));
  }

  /** Every node up knows the same leader and the leader lists `count` members. */
  async waitMembers(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${count} members with an agreed leader`,
      async () => {
        const statuses = await Promise.all(
          this.nodes.filter((n) => n.proc).map((n) => this.status(this.nodes.indexOf(n))),
        );
        const leaders = new Set(statuses.map((s) => s.leader));
        if (leaders.size !== 1 || !statuses[0]?.leader) return false;
        const leaderStatus = statuses.find((s) => s.state === "Leader");
        return leaderStatus && Number(leaderStatus.peers) + 1 >= count;
      },
      timeoutMs,
    );
  }

  async leaderIndex(): Promise<number> {
    return waitFor("a leader", async () => {
      for (let i = 0; i < this.nodes.length; i++) {
        if (!this.nodes[i]!.proc) continue;
        try {
          if ((await this.status(i)).state === "Leader") return i + 1;
        } catch {}
      }
      return false;
    }).then((x) => x - 1);
  }

  async kill(i: number, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const n = this.node(i);
    if (!n.proc) return;
    n.proc.kill(signal);
    await n.proc.exited;
    live.delete(n.proc);
    n.proc = null;
  }

  async restart(i: number): Promise<void> {
    const n = this.node(i);
    if (n.proc) await this.kill(i);
    this.spawnNode(n);
    await waitFor(`${n.id} admin port`, async () => (await this.status(i)).node === n.id);
  }

  folder(i: number): string {
    return this.node(i).folder;
  }

  /** path → sha256 of every file and "dir" for every directory, excluding node state. */
  async tree(i: number): Promise<Map<string, string>> {
    return treeOf(this.folder(i));
  }

  /** Resolves once every running node's folder is identical (paths, bytes) and, if given, matches `expect`. */
  async waitConverged(
    timeoutMs = 30_000,
    expect?: (t: Map<string, string>) => boolean,
  ): Promise<Map<string, string>> {
    let last = "";
    return waitFor(
      "identical trees on every node",
      async () => {
        const running = this.nodes.map((n, i) => (n.proc ? i : -1)).filter((i) => i >= 0);
        const trees = await Promise.all(running.map((i) => this.tree(i)));
        const keys = trees.map((t) => JSON.stringify([...t.entries()].sort()));
        last = keys.map((k, j) => `${this.nodes[running[j]!]!.id}: ${k.slice(0, 300)}`).join("\n");
        if (!keys.every((k) => k === keys[0])) return false;
        if (expect && !expect(trees[0]!)) return false;
        return trees[0]!;
      },
      timeoutMs,
      50,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${last}`);
    });
  }

  logs(i: number): string {
    try {
      return readFileSync(path.join(this.dataDir, `${this.node(i).id}.stderr.log`), "utf8");
    } catch {
      return "";
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.proc) return;
        n.proc.kill(PROFILE_DIR ? "SIGTERM" : "SIGKILL");
        await n.proc.exited;
        live.delete(n.proc);
        n.proc = null;
      }),
    );
    if (!process.env.PICKBOX_KEEP_TEST_DATA) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function treeOf(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (rel === "" && name === ".pickbox") continue;
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(abs);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        out.set(r, "dir");
        await walk(abs, r);
      } else if (st.isFile()) {
        try {
          const data = await readFile(abs);
          out.set(r, `${createHash("sha256").update(data).digest("hex")}:${(st.mode & 0o777).toString(8)}`);
        } catch {}
      }
    }
  }
  await walk(root, "");
  return out;
}
