import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotSink, SnapshotStore } from "../snapshot-store.ts";
import type { SnapshotMeta } from "../types.ts";
import { type Fd, fsyncPath, openFd } from "./fd-io.ts";
import { parseSnapshotManifest, type SnapshotManifest } from "./snapshot-manifest.ts";

export interface FileSnapshotStoreOptions {
  /** How many complete snapshots to keep after a new one is closed. Default 2, minimum 1. */
  retain?: number;
  /** Size of the chunks open() yields. Default 1 MiB. */
  readChunkSize?: number;
}

/** A snapshot directory that list()/open() skipped, and why. */
export interface SnapshotProblem {
  name: string;
  error: string;
}

export interface OpenedSnapshot {
  meta: SnapshotMeta;
  size: number;
  /**
   * The data, read from disk chunk by chunk as it is consumed. Iterate it once. Its SHA-256 is checked
   * at the end: a corrupt file makes the iteration throw after the last chunk.
   */
  data: AsyncIterable<Uint8Array>;
  /** Release the open file without reading it (iterating to the end or breaking out also releases it). */
  close(): Promise<void>;
}

interface StoredSnapshot {
  name: string;
  manifest: SnapshotManifest;
}

const FINAL_NAME = /^(\d+)-(\d+)$/;
const TMP_SUFFIX = ".tmp";
const MANIFEST_FILE = "meta.json";
const DATA_FILE = "data";
/** Writes smaller than this are coalesced into one buffer before they reach the file. */
const WRITE_BUFFER_SIZE = 1 << 20;

/**
 * Snapshots as directories `<term>-<index>/` holding `meta.json` and `data`. A snapshot is written as
 * `<term>-<index>.<n>.tmp/`, fsynced, and renamed into place, so a crash leaves either the complete
 * snapshot or a .tmp directory, which the next start removes. Use one store per directory: constructing
 * a store removes every .tmp directory in it, including ones another live store is still writing.
 */
export class FileSnapshotStore implements SnapshotStore {
  readonly dir: string;
  readonly retain: number;
  private readonly readChunkSize: number;
  private tmpCounter = 0;
  private lastProblems: SnapshotProblem[] = [];

  /** Creates the directory if needed and removes partial snapshots left by a crash. */
  constructor(dir: string, options: FileSnapshotStoreOptions = {}) {
    this.dir = dir;
    this.retain = Math.max(1, Math.floor(options.retain ?? 2));
    this.readChunkSize = Math.max(4096, Math.floor(options.readChunkSize ?? 1 << 20));
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      if (name.endsWith(TMP_SUFFIX)) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }

  /** Snapshot directories the last list()/open() skipped as corrupt or incomplete, with the reason. */
  problems(): SnapshotProblem[] {
    return this.lastProblems.slice();
  }

  async create(meta: SnapshotMeta): Promise<FileSnapshotSink> {
    const name = `${meta.term}-${meta.index}`;
    const tmpDir = join(this.dir, `${name}.${this.tmpCounter++}${TMP_SUFFIX}`);
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    const handle = await openFd(join(tmpDir, DATA_FILE), "w");
    return new FileSnapshotSink(structuredClone(meta), this, name, tmpDir, handle);
  }

  async list(): Promise<SnapshotMeta[]> {
    return (await this.scan()).map((s) => structuredClone(s.manifest.meta));
  }

  async open(index: number): Promise<OpenedSnapshot | null> {
    const found = (await this.scan()).find((s) => s.manifest.meta.index === index);
    if (!found) return null;
    // Open now, not when iteration starts: an open file stays readable even if pruning removes it.
    let handle: Fd;
    try {
      handle = await openFd(join(this.dir, found.name, DATA_FILE), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null; // pruned since the scan
      throw err;
    }
    const { meta, size, sha256 } = found.manifest;
    const release = () => handle.close();
    const chunkSize = this.readChunkSize;
    const name = found.name;
    async function* read(): AsyncGenerator<Uint8Array> {
      const hasher = new Bun.CryptoHasher("sha256");
      let total = 0;
      try {
        for (;;) {
          const buf = new Uint8Array(chunkSize);
          const bytesRead = await handle.read(buf, 0, chunkSize, total);
          if (bytesRead === 0) break;
          total += bytesRead;
          const chunk = bytesRead === chunkSize ? buf : buf.subarray(0, bytesRead);
          hasher.update(chunk);
          yield chunk;
        }
      } finally {
        await release();
      }
      if (total !== size)
        throw new Error(`snapshot ${name}: data has ${total} bytes, meta.json says ${size}`);
      const digest = hasher.digest("hex");
      if (digest !== sha256) throw new Error(`snapshot ${name}: data checksum mismatch (sha256 ${digest})`);
    }
    return { meta: structuredClone(meta), size, data: read(), close: release };
  }

  /** Valid snapshots, newest (highest index, then term) first; records the ones skipped. */
  private async scan(): Promise<StoredSnapshot[]> {
    const problems: SnapshotProblem[] = [];
    const found: StoredSnapshot[] = [];
    for (const name of await readdir(this.dir)) {
      if (!FINAL_NAME.test(name)) continue;
      try {
        found.push({ name, manifest: await this.readManifest(name) });
      } catch (err) {
        problems.push({ name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    this.lastProblems = problems;
    return found.sort(
      (a, b) => b.manifest.meta.index - a.manifest.meta.index || b.manifest.meta.term - a.manifest.meta.term,
    );
  }

  private async readManifest(name: string): Promise<SnapshotManifest> {
    let text: string;
    try {
      text = await readFile(join(this.dir, name, MANIFEST_FILE), "utf8");
    } catch (err) {
      throw new Error(`snapshot ${name}: cannot read ${MANIFEST_FILE}: ${(err as Error).message}`);
    }
    const manifest = parseSnapshotManifest(text, name);
    const expected = `${manifest.meta.term}-${manifest.meta.index}`;
    if (expected !== name) throw new Error(`snapshot ${name}: ${MANIFEST_FILE} describes ${expected}`);
    let size: number;
    try {
      size = (await stat(join(this.dir, name, DATA_FILE))).size;
    } catch (err) {
      throw new Error(`snapshot ${name}: cannot stat ${DATA_FILE}: ${(err as Error).message}`);
    }
    if (size !== manifest.size) {
      throw new Error(
        `snapshot ${name}: ${DATA_FILE} has ${size} bytes, ${MANIFEST_FILE} says ${manifest.size}`,
      );
    }
    return manifest;
  }

  /** Called by a sink once its .tmp directory is complete and fsynced: publish it, then prune. */
  async publish(name: string, tmpDir: string): Promise<void> {
    const finalDir = join(this.dir, name);
    if (await exists(finalDir)) {
      let valid = false;
      try {
        await this.readManifest(name);
        valid = true;
      } catch {
        // a corrupt snapshot under the same name: replace it below
      }
      if (valid) {
        // Same term and index means the same committed state: keep the published copy, which is never
        // absent from disk, rather than delete-then-rename.
        await rm(tmpDir, { recursive: true, force: true });
        return;
      }
      await rm(finalDir, { recursive: true, force: true });
    }
    await rename(tmpDir, finalDir);
    await fsyncPath(this.dir);
    await this.prune();
  }

  /** Keep the newest `retain` snapshots; also drop corrupt ones no newer than the newest valid one. */
  private async prune(): Promise<void> {
    const valid = await this.scan();
    const keepFrom = valid[0]?.manifest.meta.index ?? Number.POSITIVE_INFINITY;
    for (const s of valid.slice(this.retain))
      await rm(join(this.dir, s.name), { recursive: true, force: true });
    let removed = valid.length > this.retain;
    const kept: SnapshotProblem[] = [];
    for (const p of this.lastProblems) {
      const index = Number(FINAL_NAME.exec(p.name)?.[2]);
      if (index <= keepFrom) {
        await rm(join(this.dir, p.name), { recursive: true, force: true });
        removed = true;
      } else {
        kept.push(p);
      }
    }
    this.lastProblems = kept;
    if (removed) await fsyncPath(this.dir);
  }
}

/** Streams one snapshot into its .tmp directory. Calls are serialised; await each write. */
export class FileSnapshotSink implements SnapshotSink {
  readonly meta: SnapshotMeta;
  private readonly hasher = new Bun.CryptoHasher("sha256");
  private readonly pending = new Uint8Array(WRITE_BUFFER_SIZE);
  private pendingLength = 0;
  private written = 0;
  private state: "open" | "closing" | "closed" | "cancelled" | "failed" = "open";
  /** Tail of the operation chain: writes share one buffer, so they must not overlap. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    meta: SnapshotMeta,
    private readonly store: FileSnapshotStore,
    private readonly name: string,
    readonly tmpDir: string,
    private readonly handle: Fd,
  ) {
    this.meta = meta;
  }

  /** Bytes accepted so far. */
  get size(): number {
    return this.written + this.pendingLength;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.serialise(() => this.doWrite(chunk));
  }

  close(): Promise<void> {
    return this.serialise(() => this.doClose());
  }

  cancel(): Promise<void> {
    return this.serialise(() => this.doCancel());
  }

  private serialise(op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => {});
    return run;
  }

  private async doWrite(chunk: Uint8Array): Promise<void> {
    this.assertOpen("write");
    this.hasher.update(chunk);
    if (chunk.byteLength >= WRITE_BUFFER_SIZE / 4) {
      await this.flush();
      await this.writeFully(chunk);
      return;
    }
    if (this.pendingLength + chunk.byteLength > WRITE_BUFFER_SIZE) await this.flush();
    this.pending.set(chunk, this.pendingLength);
    this.pendingLength += chunk.byteLength;
  }

  private async doClose(): Promise<void> {
    this.assertOpen("close");
    this.state = "closing";
    try {
      await this.flush();
      await this.handle.sync();
      await this.handle.close();
      const manifest: SnapshotManifest = {
        version: 1,
        meta: this.meta,
        size: this.written,
        sha256: this.hasher.digest("hex"),
      };
      const mf = await openFd(join(this.tmpDir, MANIFEST_FILE), "w");
      try {
        const json = new TextEncoder().encode(JSON.stringify(manifest));
        await mf.writeAll(json, 0);
        await mf.sync();
      } finally {
        await mf.close();
      }
      await fsyncPath(this.tmpDir);
      await this.store.publish(this.name, this.tmpDir);
      this.state = "closed";
    } catch (err) {
      this.state = "failed";
      await this.handle.close().catch(() => {});
      await rm(this.tmpDir, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  private async doCancel(): Promise<void> {
    if (this.state === "cancelled" || this.state === "failed") return;
    if (this.state !== "open") throw new Error(`snapshot ${this.name}: cancel() after close()`);
    this.state = "cancelled";
    await this.handle.close().catch(() => {});
    await rm(this.tmpDir, { recursive: true, force: true });
  }

  private async flush(): Promise<void> {
    if (this.pendingLength === 0) return;
    const n = this.pendingLength;
    this.pendingLength = 0;
    await this.writeFully(this.pending.subarray(0, n));
  }

  private async writeFully(bytes: Uint8Array): Promise<void> {
    await this.handle.writeAll(bytes, this.written);
    this.written += bytes.byteLength;
  }

  private assertOpen(op: string): void {
    if (this.state !== "open") throw new Error(`snapshot ${this.name}: ${op}() on a ${this.state} sink`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
