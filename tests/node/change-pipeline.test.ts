import { describe, expect, test } from "bun:test";
import { ChangePipeline } from "../../src/node/change-pipeline.ts";

interface Cmd {
  path: string;
  version: number;
}

/** A proposal sink the test releases by hand, so "in flight" is a state the test controls. */
class ManualProposer {
  readonly proposals: Cmd[][] = [];
  private releases: (() => void)[] = [];
  failNext = 0;

  propose = (data: Uint8Array): Promise<void> => {
    const cmds = JSON.parse(new TextDecoder().decode(data)) as Cmd[];
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error("leader changed"));
    }
    this.proposals.push(cmds);
    return new Promise((r) => this.releases.push(r));
  };

  releaseAll(): void {
    const rs = this.releases;
    this.releases = [];
    for (const r of rs) r();
  }

  get inFlight(): number {
    return this.releases.length;
  }
}

function pipeline(
  scan: (p: string) => Promise<{ command: Cmd; missingChunks: string[] } | null>,
  proposer: ManualProposer,
  scanRetryDelayMs = 1,
) {
  return new ChangePipeline<Cmd>({
    scanner: { scan },
    encode: (cmds) => new TextEncoder().encode(JSON.stringify(cmds)),
    propose: proposer.propose,
    openPush: () => ({ add: async () => {}, finish: async () => {}, abort: () => {} }),
    maxInFlightBatches: 1,
    retryDelayMs: 1,
    scanRetryDelayMs,
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(1);
  }
}

describe("ChangePipeline", () => {
  test("changes that pile up while a proposal is in flight go out together in the next one", async () => {
    const versions = new Map<string, number>();
    const proposer = new ManualProposer();
    const p = pipeline(
      async (path) => ({ command: { path, version: versions.get(path) ?? 0 }, missingChunks: [] }),
      proposer,
    );
    p.markDirty(["first"]);
    await until(() => proposer.inFlight === 1, "first proposal");
    p.markDirty(Array.from({ length: 100 }, (_, i) => `f${i}`));
    proposer.releaseAll();
    await until(() => proposer.proposals.length === 2, "second proposal");
    expect(proposer.proposals[1]!.length).toBe(100); // one entry, not a hundred
    proposer.releaseAll();
    await p.idle();
  });

  test("a path is never in two proposals at once; a change made meanwhile is proposed after", async () => {
    const versions = new Map<string, number>([["a.txt", 1]]);
    const proposer = new ManualProposer();
    const p = pipeline(
      async (path) => ({ command: { path, version: versions.get(path)! }, missingChunks: [] }),
      proposer,
    );
    p.markDirty(["a.txt"]);
    await until(() => proposer.inFlight === 1, "v1 proposed");
    versions.set("a.txt", 2);
    p.markDirty(["a.txt"]);
    await Bun.sleep(10);
    expect(proposer.proposals.length).toBe(1); // v2 waits for v1 to be acknowledged
    proposer.releaseAll();
    await until(() => proposer.proposals.length === 2, "v2 proposed");
    expect(proposer.proposals.map((b) => b[0]!.version)).toEqual([1, 2]);
    proposer.releaseAll();
    await p.idle();
  });

  test("a failed proposal is retried: nothing is lost", async () => {
    const proposer = new ManualProposer();
    proposer.failNext = 2;
    const p = pipeline(async (path) => ({ command: { path, version: 1 }, missingChunks: [] }), proposer);
    p.markDirty(["keep-me.txt"]);
    await until(() => proposer.proposals.length === 1, "proposal after two failures");
    expect(proposer.proposals[0]![0]!.path).toBe("keep-me.txt");
    proposer.releaseAll();
    await p.idle();
  });

  test("a failed scan whose error says when (retryAfterMs) is retried then, not after the default wait", async () => {
    const attempts = new Map<string, number>();
    const proposer = new ManualProposer();
    const p = pipeline(
      async (path) => {
        const n = (attempts.get(path) ?? 0) + 1;
        attempts.set(path, n);
        if (n === 1) {
          throw path === "soon.bin"
            ? Object.assign(new Error("open for writing"), { retryAfterMs: 5 })
            : new Error("changed while it was scanned");
        }
        return { command: { path, version: 1 }, missingChunks: [] };
      },
      proposer,
      60_000, // the default wait: far beyond this test
    );
    p.markDirty(["soon.bin", "later.log"]);
    await until(() => proposer.proposals.length === 1, "the early retry's proposal");
    expect(proposer.proposals[0]!.map((c) => c.path)).toEqual(["soon.bin"]);
    expect(attempts.get("later.log")).toBe(1); // still waiting out the default
    proposer.releaseAll();
  });

  test("a scan that fails (file changing while read) is retried without waiting for a reconcile", async () => {
    let attempts = 0;
    const proposer = new ManualProposer();
    const p = pipeline(async (path) => {
      attempts++;
      if (attempts === 1) throw new Error("changed while it was scanned");
      return { command: { path, version: 1 }, missingChunks: [] };
    }, proposer);
    p.markDirty(["busy.log"]);
    await until(() => proposer.proposals.length === 1, "proposal after the retried scan");
    expect(attempts).toBe(2);
    proposer.releaseAll();
    await p.idle();
  });

  test("chunk pushes name the files whose chunks they carry, before the proposal", async () => {
    const proposer = new ManualProposer();
    const pushes: { hashes: string[]; paths: string[]; proposalsBefore: number }[] = [];
    const missing: Record<string, string[]> = {
      "big.bin": ["h1", "h2"],
      "small.txt": [],
      "other.iso": ["h3"],
    };
    const p = new ChangePipeline<Cmd>({
      scanner: { scan: async (path) => ({ command: { path, version: 1 }, missingChunks: missing[path]! }) },
      encode: (cmds) => new TextEncoder().encode(JSON.stringify(cmds)),
      propose: proposer.propose,
      openPush: () => ({
        add: async () => {},
        finish: async (hashes, paths) => {
          pushes.push({ hashes, paths, proposalsBefore: proposer.proposals.length });
        },
        abort: () => {},
      }),
      maxInFlightBatches: 1,
    });
    p.markDirty(["big.bin", "small.txt", "other.iso"]);
    await until(() => proposer.inFlight === 1, "the proposal");
    expect(pushes).toEqual([
      { hashes: ["h1", "h2", "h3"], paths: ["big.bin", "other.iso"], proposalsBefore: 0 },
    ]);
    proposer.releaseAll();
    await p.idle();
  });

  test("chunks a scan stores reach the batch's push while it scans; a push nobody needs is aborted", async () => {
    const proposer = new ManualProposer();
    const log: string[] = [];
    const p = new ChangePipeline<Cmd>({
      scanner: {
        scan: async (path, sink) => {
          await sink?.add(path, 8, [{ hash: `${path}-c1`, data: new Uint8Array(8) }]);
          log.push(`scanned ${path}`);
          if (path === "gone.bin") return null; // e.g. it changed while it was read
          return { command: { path, version: 1 }, missingChunks: [`${path}-c1`] };
        },
      },
      encode: (cmds) => new TextEncoder().encode(JSON.stringify(cmds)),
      propose: proposer.propose,
      openPush: () => ({
        add: async (file, _size, chunks) => {
          log.push(`add ${file} ${chunks.map((c) => c.hash).join(",")}`);
        },
        finish: async (hashes) => {
          log.push(`finish ${hashes.join(",")}`);
        },
        abort: () => {
          log.push("abort");
        },
      }),
      maxInFlightBatches: 1,
    });
    p.markDirty(["a.bin"]);
    await until(() => proposer.inFlight === 1, "the proposal");
    expect(log).toEqual(["add a.bin a.bin-c1", "scanned a.bin", "finish a.bin-c1"]);
    proposer.releaseAll();
    await p.idle();
    log.length = 0;
    p.markDirty(["gone.bin"]);
    await p.idle();
    expect(log).toEqual(["add gone.bin gone.bin-c1", "scanned gone.bin", "abort"]);
    expect(proposer.proposals).toHaveLength(1);
  });

  test("echoes (scanner returns null) produce no proposal at all", async () => {
    const proposer = new ManualProposer();
    const p = pipeline(async () => null, proposer);
    p.markDirty(["x", "y", "z"]);
    await p.idle();
    expect(proposer.proposals).toEqual([]);
  });
});
