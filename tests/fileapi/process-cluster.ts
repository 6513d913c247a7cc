// Pickbox nodes with the file API as separate processes (kill -9 is real), on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Subprocess, spawn } from "bun";
import { FileApiClient } from "../../src/fileapi/client.ts";
import { freePorts, waitFor } from "../integration/helpers/cluster.ts";

const FIXTURE = path.join(import.meta.dir, "fixtures/fileapi-node.ts");
const live = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface ProcNode {
  id: string;
  proc: Subprocess<"ignore", "pipe", "inherit">;
  client: string;
  alive: boolean;
}

export class ProcessCluster {
  readonly nodes: ProcNode[] = [];
  private constructor(readonly dir: string) {}

  static async start(size: number): Promise<ProcessCluster> {
    const c = new ProcessCluster(mkdtempSync(path.join(os.tmpdir(), "pickbox-fileapi-proc-")));
    const ports = await freePorts(size * 2);
    for (let i = 0; i < size; i++) {
      const id = `node${i + 1}`;
      const mode = i === 0 ? "bootstrap" : `127.0.0.1:${ports[0]}`;
      const proc = spawn(["bun", FIXTURE, id, String(ports[i * 2]), String(ports[i * 2 + 1]), c.dir, mode], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "inherit",
      });
      live.add(proc);
      const line = await firstLine(proc.stdout, 30_000);
      const ready = JSON.parse(line) as { client: string };
      c.nodes.push({ id, proc, client: ready.client, alive: true });
      if (i === 0) {
        await waitFor("node1 to lead", async () => (await c.info(0)).role === "leader", 15_000);
      }
    }
    await waitFor(
      "every node to know the leader",
      async () => {
        for (let i = 0; i < size; i++) if ((await c.info(i)).leader === null) return false;
        return true;
      },
      30_000,
    );
    return c;
  }

  async info(i: number): Promise<{ role: string; leader: string | null; applied: number }> {
    const cl = await FileApiClient.connect(this.nodes[i]!.client);
    try {
      return await cl.info();
    } finally {
      cl.destroy();
    }
  }

  async leaderIndex(): Promise<number> {
    for (let i = 0; i < this.nodes.length; i++) {
      if (!this.nodes[i]!.alive) continue;
      const inf = await this.info(i).catch(() => null);
      if (inf?.role === "leader") return i;
    }
    return -1;
  }

  kill(i: number): void {
    const n = this.nodes[i]!;
    n.proc.kill("SIGKILL");
    n.alive = false;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      // Under BUN_OPTIONS=--cpu-prof a node writes its profile only when it exits on its own.
      n.proc.kill(process.env.BUN_OPTIONS?.includes("--cpu-prof") ? "SIGTERM" : "SIGKILL");
      await n.proc.exited;
      live.delete(n.proc);
    }
    if (!process.env.PICKBOX_KEEP_TEST_DATA) rmSync(this.dir, { recursive: true, force: true });
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (!buf.includes("\n")) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error("node did not report ready");
    const r = await Promise.race([
      reader.read(),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("node did not report ready")), left)),
    ]);
    if (r.done) throw new Error(`node exited before ready: ${buf}`);
    buf += decoder.decode(r.value, { stream: true });
  }
  reader.releaseLock();
  return buf.slice(0, buf.indexOf("\n"));
}
