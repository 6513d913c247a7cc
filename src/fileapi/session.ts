// One client connection's state and verbs: its handles, and what each request does to the cluster.
// Requests of a connection run one at a time, in order; many connections run at once.
import type {
  DeleteCommand,
  LeafCommand,
  MkdirCommand,
  PutCommand,
  RmdirCommand,
} from "../store/commands.ts";
import { type IndexEntry, liveEntry as live } from "../store/file-index.ts";
import { normalizeRelPath } from "../store/paths.ts";
import type { VectorClock } from "../store/vector-clock.ts";
import type { FileApiBackend } from "./backend.ts";
import { buildPut, type CommitBatcher, commitCommand, leafResults, type OutcomeTracker } from "./commit.ts";
import { FileApiError, toFileApiError } from "./errors.ts";
import type { FileApiLimits } from "./limits.ts";
import { type ChunkOffsetCache, VersionReader } from "./version-reader.ts";
import { decodeToken, encodeToken, type FileInfo, formatInfo, okLine, parseCount } from "./wire.ts";
import { WriteSpool } from "./write-spool.ts";

export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIR_MODE = 0o755;

/** Shared by every session of a server. */
export interface SessionContext {
  backend: FileApiBackend;
  limits: FileApiLimits;
  tracker: OutcomeTracker;
  batcher: CommitBatcher;
  offsets: ChunkOffsetCache;
  /** Wall clock for mtimes of new versions. */
  now: () => number;
  /** A sequence number unique to this server process for every command it proposes. */
  nextSeq: () => number;
}

export interface Request {
  verb: string;
  args: string[];
  /** WRITE's bytes. */
  payload?: Uint8Array;
}

/** What a verb sends back: a reply line and, for READ and LIST, a payload after it. */
export interface Reply {
  line: Uint8Array;
  payload?: Uint8Array;
  /** Close the connection after sending (QUIT). */
  close?: boolean;
}

type OpenMode = "r" | "w" | "a" | "rw";

interface ReadHandle {
  kind: "read";
  path: string;
  version: number;
  reader: VersionReader;
}

interface WriteHandle {
  kind: "write";
  mode: Exclude<OpenMode, "r">;
  path: string;
  spool: WriteSpool;
  /** Clock of the version observed at OPEN (or at the last FSYNC): the base of the next commit. */
  base: VectorClock;
  version: number;
  fileMode: number;
  /** Content differs from the last committed state of this handle. */
  dirty: boolean;
  hash: string;
  /** A WRITE on this handle failed: its content is not what the client sent, so it is never committed
   * (a client may have sent CLOSE right behind that WRITE, without waiting for its reply). */
  failed: FileApiError | null;
}

type Handle = ReadHandle | WriteHandle;

export class Session {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private closed = false;

  constructor(private readonly ctx: SessionContext) {}

  get openHandles(): number {
    return this.handles.size;
  }

  /** Runs one request. Errors are thrown as FileApiError (the connection turns them into ERR lines). */
  async handle(req: Request): Promise<Reply> {
    const a = req.args;
    switch (req.verb) {
      case "PING":
        return { line: okLine("PONG") };
      case "INFO": {
        const i = this.ctx.backend.info();
        return { line: okLine(i.nodeId, i.role, i.leader ?? "-", i.term, i.commit, i.applied) };
      }
      case "OPEN":
        arity(a, 2, 3, "OPEN <path> <r|w|a|rw> [stale]");
        return this.open(path(a[0]), a[1]!, freshness(a[2]));
      case "READ":
        arity(a, 3, 3, "READ <handle> <offset> <length>");
        return this.read(parseCount(a[0], "handle"), parseCount(a[1], "offset"), parseCount(a[2], "length"));
      case "WRITE":
        arity(a, 3, 3, "WRITE <handle> <offset> <length>");
        return this.write(parseCount(a[0], "handle"), parseCount(a[1], "offset"), req.payload!);
      case "FSYNC":
        arity(a, 1, 1, "FSYNC <handle>");
        return this.fsync(parseCount(a[0], "handle"));
      case "CLOSE":
        arity(a, 1, 1, "CLOSE <handle>");
        return this.closeHandle(parseCount(a[0], "handle"));
      case "ABORT":
        arity(a, 1, 1, "ABORT <handle>");
        return this.abort(parseCount(a[0], "handle"));
      case "STAT":
        arity(a, 1, 2, "STAT <path> [stale]");
        return this.stat(path(a[0]), freshness(a[1]));
      case "LIST":
        return this.list(a);
      case "DELETE":
        arity(a, 1, 1, "DELETE <path>");
        return this.remove(path(a[0]));
      case "RENAME":
        arity(a, 2, 2, "RENAME <from> <to>");
        return this.rename(path(a[0]), path(a[1]));
      case "MKDIR":
        arity(a, 1, 1, "MKDIR <path>");
        return this.mkdir(path(a[0]));
      case "QUIT":
        return { line: okLine("BYE"), close: true };
      case "":
        throw new FileApiError("EINVAL", "empty request");
      default:
        throw new FileApiError(
          "EINVAL",
          `unknown verb ${JSON.stringify(req.verb.slice(0, 32))}; verbs: OPEN READ WRITE FSYNC CLOSE ABORT STAT LIST DELETE RENAME MKDIR INFO PING QUIT`,
        );
    }
  }

  /** The connection is gone: uncommitted writes are discarded (like a process that exits without close). */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const hs = [...this.handles.values()];
    this.handles.clear();
    for (const h of hs) if (h.kind === "write") await h.spool.close();
  }

  // ------------------------------------------------------------------------------------------- handles

  private async open(p: string, mode: string, fresh: boolean): Promise<Reply> {
    if (mode !== "r" && mode !== "w" && mode !== "a" && mode !== "rw")
      throw new FileApiError("EINVAL", `mode ${JSON.stringify(mode)} is not r, w, a or rw`);
    const { limits, backend } = this.ctx;
    if (this.handles.size >= limits.maxHandlesPerConnection)
      throw new FileApiError(
        "ELIMIT",
        `at most ${limits.maxHandlesPerConnection} open handles per connection`,
      );
    if (fresh) await this.barrier(p);
    const current = backend.getEntry(p); // a tombstone too: its clock is the base of a new version
    const entry = live(current);
    if (entry?.kind === "dir") throw new FileApiError("EISDIR", `${p} is a directory`);
    this.checkAncestors(p);
    if (mode === "r") {
      if (!entry) throw new FileApiError("ENOENT", `${p} does not exist`);
      const id = this.nextHandle++;
      const reader = new VersionReader(
        { path: p, size: entry.size, hash: entry.hash, chunks: entry.chunks },
        backend,
        this.ctx.offsets,
      );
      this.handles.set(id, { kind: "read", path: p, version: entry.updatedIndex, reader });
      return { line: okLine(id, entry.size, entry.updatedIndex) };
    }
    const spool = new WriteSpool(backend.spoolDir, limits.spoolMemoryBytes);
    const h: WriteHandle = {
      kind: "write",
      mode,
      path: p,
      spool,
      base: current?.clock ?? {},
      version: entry?.updatedIndex ?? 0,
      fileMode: entry?.mode ?? DEFAULT_FILE_MODE,
      dirty: mode === "w", // w truncates (or creates): that is a change even without a WRITE
      hash: entry?.hash ?? "",
      failed: null,
    };
    try {
      if (entry && mode !== "w") await this.copyInto(entry, spool);
    } catch (e) {
      await spool.close();
      throw e;
    }
    const id = this.nextHandle++;
    this.handles.set(id, h);
    return { line: okLine(id, spool.size, h.version) };
  }

  /** a and rw handles start from the current content (streamed, bounded memory). */
  private async copyInto(entry: IndexEntry, spool: WriteSpool): Promise<void> {
    if (entry.size > this.ctx.limits.maxFileBytes)
      throw new FileApiError(
        "ETOOBIG",
        `${entry.path} is larger than the ${this.ctx.limits.maxFileBytes}-byte limit`,
      );
    const reader = new VersionReader(
      { path: entry.path, size: entry.size, hash: entry.hash, chunks: entry.chunks },
      this.ctx.backend,
      this.ctx.offsets,
    );
    const block = 1024 * 1024;
    for (let off = 0; off < entry.size; off += block) await spool.write(off, await reader.read(off, block));
  }

  private async read(id: number, offset: number, length: number): Promise<Reply> {
    const h = this.get(id);
    if (length > this.ctx.limits.maxReadBytes)
      throw new FileApiError(
        "ETOOBIG",
        `READ length ${length} is over the ${this.ctx.limits.maxReadBytes}-byte limit`,
      );
    const data = h.kind === "read" ? await h.reader.read(offset, length) : await h.spool.read(offset, length);
    return { line: okLine(data.length), payload: data };
  }

  private async write(id: number, offset: number, data: Uint8Array): Promise<Reply> {
    const h = this.get(id);
    if (h.kind !== "write") throw new FileApiError("EBADF", `handle ${id} is open for reading only`);
    if (h.failed) throw notCommittable(id, h.failed);
    try {
      const at = h.mode === "a" ? h.spool.size : offset; // append mode: like O_APPEND, writes go to the end
      if (at + data.length > this.ctx.limits.maxFileBytes)
        throw new FileApiError(
          "ETOOBIG",
          `the file would exceed the ${this.ctx.limits.maxFileBytes}-byte limit`,
        );
      await h.spool.write(at, data);
    } catch (e) {
      h.failed = toFileApiError(e);
      throw h.failed;
    }
    if (data.length > 0) h.dirty = true;
    return { line: okLine(data.length) };
  }

  /** A WRITE on handle `id` was refused before it reached the session (its payload was over the limit):
   * the handle's content is not what the client meant, so it will not be committed. */
  writeRefused(id: number, err: FileApiError): void {
    const h = this.handles.get(id);
    if (h?.kind === "write") h.failed ??= err;
  }

  private async fsync(id: number): Promise<Reply> {
    const h = this.get(id);
    if (h.kind === "read") return { line: okLine(h.reader.version.size, h.reader.version.hash, h.version) };
    if (h.failed) throw notCommittable(id, h.failed);
    return this.commit(h);
  }

  private async closeHandle(id: number): Promise<Reply> {
    const h = this.get(id);
    if (h.kind === "read") {
      this.handles.delete(id);
      return { line: okLine() };
    }
    if (h.failed) {
      await this.drop(id);
      throw notCommittable(id, h.failed, "the handle is closed");
    }
    try {
      const reply = await this.commit(h);
      await this.drop(id);
      return reply;
    } catch (e) {
      // Cluster trouble leaves the handle open so the client can CLOSE again (or ABORT); anything else ends it.
      const code = e instanceof FileApiError ? e.code : "EIO";
      if (code !== "EUNAVAILABLE" && code !== "ETIMEDOUT") await this.drop(id);
      throw e;
    }
  }

  private async abort(id: number): Promise<Reply> {
    this.get(id);
    await this.drop(id);
    return { line: okLine() };
  }

  /**
   * Commits the handle's content as one new version based on the version observed at OPEN. Replies
   * `OK <size> <hash> <version>` once the entry is applied here, or ECONFLICT naming the conflict copy.
   */
  private async commit(h: WriteHandle): Promise<Reply> {
    const { backend, batcher } = this.ctx;
    if (!h.dirty) return { line: okLine(h.spool.size, h.hash || "-", h.version) };
    const cmd = await buildPut(backend, {
      path: h.path,
      content: h.spool.stream(),
      base: h.base,
      mode: h.fileMode,
      mtimeMs: this.ctx.now(),
      origin: backend.nodeId,
      seq: this.ctx.nextSeq(),
    });
    const { leaf, index } = await batcher.submit(cmd);
    switch (leaf.action) {
      case "put":
      case "noop": {
        if (leaf.conflictPath) throw conflict(h.path, leaf.conflictPath); // a retried conflict copy
        const now = backend.getEntry(h.path);
        // Base of a later FSYNC/CLOSE: our version. If someone replaced it already, keep the old base so
        // that the next commit of this handle conflicts instead of overwriting them.
        if (now && !now.deleted && now.hash === cmd.hash) {
          h.base = now.clock;
          h.version = now.updatedIndex;
        } else if (leaf.action === "put") {
          h.version = index;
        }
        h.dirty = false;
        h.hash = cmd.hash;
        return { line: okLine(cmd.size, cmd.hash, h.version) };
      }
      case "conflict":
        h.dirty = false; // the bytes are safe in the conflict copy
        throw conflict(h.path, leaf.conflictPath ?? "");
      case "rejected":
        throw rejected(leaf.detail ?? "rejected by the state machine");
      default:
        throw new FileApiError("EIO", `unexpected commit result ${leaf.action}`);
    }
  }

  private async drop(id: number): Promise<void> {
    const h = this.handles.get(id);
    this.handles.delete(id);
    if (h?.kind === "write") await h.spool.close();
  }

  private get(id: number): Handle {
    const h = this.handles.get(id);
    if (!h) throw new FileApiError("EBADF", `no open handle ${id} on this connection`);
    return h;
  }

  // ---------------------------------------------------------------------------------------- namespace

  private async stat(p: string, fresh: boolean): Promise<Reply> {
    if (fresh) await this.barrier(p);
    const e = live(this.ctx.backend.getEntry(p));
    if (!e) throw new FileApiError("ENOENT", `${p} does not exist`);
    return { line: okLine(formatInfo(info(e))) };
  }

  /** LIST [<dir>] [recursive] [stale]: `OK <bytes> <count> [more]` then one info row per line. */
  private async list(args: string[]): Promise<Reply> {
    let dir = "";
    let recursive = false;
    let fresh = true;
    const rest = [...args];
    if (rest.length > 0 && rest[0] !== "recursive" && rest[0] !== "stale") {
      const raw = decodeToken(rest.shift()!);
      dir = raw === "/" || raw === "." || raw === "" ? "" : normalizeRelPath(raw);
    }
    for (const opt of rest) {
      if (opt === "recursive") recursive = true;
      else if (opt === "stale") fresh = false;
      else
        throw new FileApiError(
          "EINVAL",
          `LIST [<dir>] [recursive] [stale]: unknown option ${JSON.stringify(opt)}`,
        );
    }
    if (fresh) await this.barrier();
    const { backend, limits } = this.ctx;
    if (dir) {
      const d = live(backend.getEntry(dir));
      if (!d) throw new FileApiError("ENOENT", `${dir} does not exist`);
      if (d.kind !== "dir") throw new FileApiError("ENOTDIR", `${dir} is not a directory`);
    }
    const prefix = dir ? `${dir}/` : "";
    const rows: string[] = [];
    let more = false;
    for (const e of backend.listEntries(prefix)) {
      if (!e.path.startsWith(prefix)) continue;
      if (!recursive && e.path.indexOf("/", prefix.length) >= 0) continue;
      if (rows.length >= limits.maxListEntries) {
        more = true;
        break;
      }
      rows.push(formatInfo(info(e)));
    }
    const payload = new TextEncoder().encode(rows.length > 0 ? `${rows.join("\n")}\n` : "");
    const line = more ? okLine(payload.length, rows.length, "more") : okLine(payload.length, rows.length);
    return { line, payload };
  }

  private async remove(p: string): Promise<Reply> {
    await this.barrier(p); // the delete is based on the current version, not a stale one
    const { backend } = this.ctx;
    const e = live(backend.getEntry(p));
    if (!e) throw new FileApiError("ENOENT", `${p} does not exist`);
    let cmd: DeleteCommand | RmdirCommand;
    if (e.kind === "dir") {
      if (backend.listEntries(`${p}/`).some((c) => c.path.startsWith(`${p}/`)))
        throw new FileApiError("ENOTEMPTY", `directory ${p} is not empty`);
      cmd = { op: "rmdir", path: p, base: e.clock, origin: backend.nodeId };
    } else {
      cmd = { op: "delete", path: p, base: e.clock, origin: backend.nodeId, seq: this.ctx.nextSeq() };
    }
    const { leaf } = await this.ctx.batcher.submit(cmd);
    switch (leaf.action) {
      case "delete":
      case "rmdir":
      case "noop": // deleted meanwhile by someone else: the name is gone either way
        return { line: okLine() };
      case "drop-delete":
        throw new FileApiError(
          "ECONFLICT",
          `${p} was changed by another writer meanwhile; the edit wins and it was kept`,
        );
      case "not-empty":
        throw new FileApiError("ENOTEMPTY", `directory ${p} is not empty`);
      default:
        throw rejected(leaf.detail ?? `unexpected delete result ${leaf.action}`);
    }
  }

  /** One entry: put <to> with <from>'s chunks, delete <from>. Files only. */
  private async rename(from: string, to: string): Promise<Reply> {
    await this.barrier();
    const { backend } = this.ctx;
    const src = live(backend.getEntry(from));
    if (!src) throw new FileApiError("ENOENT", `${from} does not exist`);
    if (src.kind === "dir")
      throw new FileApiError("EISDIR", `${from} is a directory; RENAME moves files only`);
    const dst = backend.getEntry(to);
    if (live(dst)?.kind === "dir") throw new FileApiError("EISDIR", `${to} is a directory`);
    this.checkAncestors(to);
    if (from === to) return { line: okLine(src.size, src.hash, src.updatedIndex) };
    if (to.startsWith(`${from}/`)) throw new FileApiError("ENOTDIR", `${from} is a file`);
    const put: PutCommand = {
      op: "put",
      path: to,
      kind: "file",
      mode: src.mode,
      mtimeMs: src.mtimeMs,
      size: src.size,
      hash: src.hash,
      chunks: src.chunks,
      inline: [], // every node that applied <from> has the chunks; one that lacks them fetches them
      base: dst?.clock ?? {},
      origin: backend.nodeId,
      seq: this.ctx.nextSeq(),
    };
    const del: DeleteCommand = {
      op: "delete",
      path: from,
      base: src.clock,
      origin: backend.nodeId,
      seq: this.ctx.nextSeq(),
    };
    const cmds: LeafCommand[] = [put, del];
    const [putR, delR] = leafResults(
      await commitCommand(backend, this.ctx.tracker, { op: "batch", commands: cmds }),
    );
    if (putR?.action === "conflict")
      throw conflict(to, putR.conflictPath ?? "", `${to} was changed by another writer meanwhile`);
    if (putR?.action === "rejected") throw rejected(putR.detail ?? "rename rejected");
    if (delR?.action === "drop-delete")
      throw new FileApiError("ECONFLICT", `${from} was changed meanwhile: it was copied to ${to} but kept`);
    const now = live(backend.getEntry(to));
    return { line: okLine(src.size, src.hash, now?.updatedIndex ?? 0) };
  }

  /** Like `mkdir -p`: parents are created; an existing directory is fine, a file is EEXIST. */
  private async mkdir(p: string): Promise<Reply> {
    await this.barrier(p);
    const { backend } = this.ctx;
    const e = backend.getEntry(p);
    if (live(e)?.kind === "dir") return { line: okLine() };
    if (live(e)) throw new FileApiError("EEXIST", `${p} is a file`);
    this.checkAncestors(p);
    const cmd: MkdirCommand = {
      op: "mkdir",
      path: p,
      mode: DEFAULT_DIR_MODE,
      base: e?.clock ?? {},
      origin: backend.nodeId,
    };
    const { leaf } = await this.ctx.batcher.submit(cmd);
    if (leaf.action === "mkdir" || leaf.action === "noop") return { line: okLine() };
    throw rejected(leaf.detail ?? `unexpected mkdir result ${leaf.action}`);
  }

  // ------------------------------------------------------------------------------------------ helpers

  /** Linearizable view of `p` (or of everything, without a path) before reading the index. */
  private async barrier(p?: string): Promise<void> {
    try {
      await this.ctx.backend.readBarrier(this.ctx.limits.barrierTimeoutMs, p);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new FileApiError(
        "EUNAVAILABLE",
        `no linearizable read possible now (${msg}); retry, or ask with stale`,
      );
    }
  }

  /** A live file among the ancestors of `p` means p cannot exist. */
  private checkAncestors(p: string): void {
    const segs = p.split("/");
    for (let i = 1; i < segs.length; i++) {
      const a = segs.slice(0, i).join("/");
      const e = live(this.ctx.backend.getEntry(a));
      if (e?.kind === "file") throw new FileApiError("ENOTDIR", `${a} is a file, so ${p} cannot exist`);
    }
  }
}

function arity(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw new FileApiError("EINVAL", `usage: ${usage}`);
}

function path(token: string | undefined): string {
  if (token === undefined) throw new FileApiError("EINVAL", "path missing");
  return normalizeRelPath(decodeToken(token)); // PathError → EPATH
}

function freshness(opt: string | undefined): boolean {
  if (opt === undefined || opt === "linearizable") return true;
  if (opt === "stale") return false;
  throw new FileApiError("EINVAL", `option ${JSON.stringify(opt)} is not "stale"`);
}

function info(e: IndexEntry): FileInfo {
  return {
    path: e.path,
    kind: e.kind,
    size: e.size,
    mode: e.mode,
    mtimeMs: e.mtimeMs,
    hash: e.hash,
    version: e.updatedIndex,
  };
}

function conflict(
  p: string,
  conflictPath: string,
  why = `${p} was replaced by another writer since OPEN`,
): FileApiError {
  const token = conflictPath ? `${encodeToken(conflictPath)} ` : "";
  return new FileApiError(
    "ECONFLICT",
    `${token}${why}; this version was kept as ${conflictPath}`,
    conflictPath,
  );
}

function rejected(detail: string): FileApiError {
  if (/is a file/.test(detail)) return new FileApiError("ENOTDIR", detail);
  if (/is a directory/.test(detail)) return new FileApiError("EISDIR", detail);
  return new FileApiError("EIO", detail);
}

/** The reply to FSYNC or CLOSE (and any further WRITE) of a handle one of whose WRITEs failed. */
function notCommittable(id: number, cause: FileApiError, after = "ABORT or CLOSE it"): FileApiError {
  return new FileApiError(
    "EIO",
    `nothing was committed: a WRITE on handle ${id} failed (${cause.code}: ${cause.message}); ${after}`,
  );
}
