import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { WorkerCalls, WorkerFailedError, type WorkerMessage } from "../../src/store/worker-calls.ts";
import { rejectionOf } from "./rejection-of.ts";

const workerCallsModule = path.resolve(import.meta.dir, "../../src/store/worker-calls.ts");

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pickbox-worker-calls-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A worker module in the test's folder: `body` runs after WORKER_READY is imported. */
function workerModule(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `import { WORKER_READY } from ${JSON.stringify(workerCallsModule)};\n${body}\n`);
  return file;
}

/** One request, answered by its first message or failed. */
function ask(calls: WorkerCalls, payload: object): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const id = calls.call((id) => ({ id, ...payload }), {
      onMessage: (m) => {
        calls.end(id);
        resolve(m);
      },
      onFailed: reject,
    });
  });
}

describe("WorkerCalls", () => {
  test("requests made before the worker listens are held until it says so, then answered in order", async () => {
    // The handler exists only after a top-level await: a message posted to it before then is dropped
    // by the Web Worker (the race a plain postMessage at start-up loses).
    const module = workerModule(
      "late.ts",
      `await new Promise((r) => setTimeout(r, 200));
       self.onmessage = (e) => self.postMessage({ id: e.data.id, echo: e.data.n });
       self.postMessage(WORKER_READY);`,
    );
    const calls = new WorkerCalls(module, "late worker");
    try {
      const answers = await Promise.all([ask(calls, { n: 1 }), ask(calls, { n: 2 }), ask(calls, { n: 3 })]);
      expect(answers.map((a) => a.echo)).toEqual([1, 2, 3]);
      expect(calls.running).toBe(true);
      expect(calls.broken).toBe(false);
      // Once ready, later requests go straight through.
      expect((await ask(calls, { n: 4 })).echo).toBe(4);
    } finally {
      calls.close();
    }
  });

  test("a worker that never says it listens fails its requests after the start timeout; the caller is told once", async () => {
    const module = workerModule("mute.ts", "self.onmessage = () => {};");
    const told: Error[] = [];
    const calls = new WorkerCalls(module, "mute worker", (err) => told.push(err), 300);
    const outcomes = await Promise.allSettled([ask(calls, { n: 1 }), ask(calls, { n: 2 })]);
    for (const o of outcomes) {
      expect(o.status).toBe("rejected");
      const reason = (o as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(WorkerFailedError);
      expect(reason.message).toBe("mute worker failed: not started within 300 ms");
    }
    expect(told.map((e) => e.message)).toEqual(["mute worker failed: not started within 300 ms"]);
    expect(calls.broken).toBe(true);
    expect(calls.running).toBe(false);
  });

  test("a worker that cannot load fails its requests at once, not after the start timeout", async () => {
    const calls = new WorkerCalls(path.join(dir, "no-such-worker.ts"), "missing worker", undefined, 60_000);
    expect((await rejectionOf(ask(calls, { n: 1 }))).message).toContain("missing worker failed");
    expect(calls.broken).toBe(true);
  });

  test("close fails open requests and stops the worker", async () => {
    const module = workerModule("slow.ts", "self.onmessage = () => {};\nself.postMessage(WORKER_READY);");
    const calls = new WorkerCalls(module, "slow worker");
    const pending = ask(calls, { n: 1 });
    calls.close();
    expect((await rejectionOf(pending)).message).toBe("slow worker closed");
    expect(calls.broken).toBe(true);
  });
});
