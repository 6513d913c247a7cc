// The replicated command: the payload of every Normal Raft entry that changes the folder.
// Encoded with msgpackr inside a versioned envelope; decode validates every field (an entry from a buggy
// or hostile peer must fail loudly, never write outside the folder or corrupt the index).
import { Packr } from "msgpackr";
import { normalizeRelPath, PathError } from "./paths.ts";
import { normalized, type VectorClock } from "./vector-clock.ts";

export const COMMAND_VERSION = 1;
/** New bytes up to this total ride inside the entry; larger changes ship chunks out of band. */
export const DEFAULT_INLINE_LIMIT = 256 * 1024;
/** A batch may not nest and may not be absurdly long (a burst of small files rides in few entries). */
export const MAX_BATCH_COMMANDS = 10_000;
const MAX_ORIGIN_LENGTH = 255;
const HASH_RE = /^[0-9a-f]{64}$/;

export interface InlineChunk {
  hash: string;
  data: Uint8Array;
}

/**
 * A chunk carried as the difference from a chunk of the file's previous version (`base`, at the same
 * offset): its first `prefix` bytes and last `suffix` bytes are the base's first and last, `middle` lies
 * between. A 4 KiB edit inside a 256 KiB chunk costs 4 KiB, not 256. A node without `base` fetches the
 * chunk instead; the result must hash to `hash` (checked).
 */
export interface DeltaChunk {
  hash: string;
  base: string;
  prefix: number;
  suffix: number;
  middle: Uint8Array;
}

/** The chunk a delta describes, from the base chunk's bytes (null when they cannot be its base). */
export function applyDelta(d: DeltaChunk, base: Uint8Array): Uint8Array | null {
  if (d.prefix + d.suffix > base.length) return null;
  const out = new Uint8Array(d.prefix + d.middle.length + d.suffix);
  out.set(base.subarray(0, d.prefix), 0);
  out.set(d.middle, d.prefix);
  out.set(base.subarray(base.length - d.suffix), d.prefix + d.middle.length);
  return out;
}

/** `data` as a delta from `base` (longest common prefix, then suffix). */
export function deltaOf(hash: string, data: Uint8Array, baseHash: string, base: Uint8Array): DeltaChunk {
  const max = Math.min(data.length, base.length);
  let prefix = 0;
  while (prefix < max && data[prefix] === base[prefix]) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && data[data.length - 1 - suffix] === base[base.length - 1 - suffix]) suffix++;
  return { hash, base: baseHash, prefix, suffix, middle: data.slice(prefix, data.length - suffix) };
}

export interface PutCommand {
  op: "put";
  path: string;
  kind: "file";
  /** Permission bits (0..0o7777). */
  mode: number;
  mtimeMs: number;
  size: number;
  /** sha256 of the whole file, lowercase hex. */
  hash: string;
  /** Ordered chunk hashes; concatenated they are the file. */
  chunks: string[];
  /** Bytes of some of `chunks` (those the cluster may lack), carried in the entry itself. */
  inline: InlineChunk[];
  /** Others carried as differences from chunks of the previous version (absent when none). */
  deltas?: DeltaChunk[];
  /** Clock of the version the origin's change was based on ({} for a new file). */
  base: VectorClock;
  origin: string;
  seq: number;
}

export interface DeleteCommand {
  op: "delete";
  path: string;
  base: VectorClock;
  origin: string;
  seq: number;
}

export interface MkdirCommand {
  op: "mkdir";
  path: string;
  mode: number;
  base: VectorClock;
  origin: string;
}

export interface RmdirCommand {
  op: "rmdir";
  path: string;
  base: VectorClock;
  origin: string;
}

export type LeafCommand = PutCommand | DeleteCommand | MkdirCommand | RmdirCommand;

export interface BatchCommand {
  op: "batch";
  commands: LeafCommand[];
}

export type Command = LeafCommand | BatchCommand;

/** A payload that is not a valid command. The message names the offending field. */
export class CommandDecodeError extends Error {
  override name = "CommandDecodeError";
}

// Plain maps and Uint8Array in, plain objects and Uint8Array out; no records/structures so that any
// node (and any future version) can read an entry without shared state.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** The Raft entry payload for one command, or for several as one batch. */
export function encodeCommand(cmd: Command | LeafCommand[]): Uint8Array {
  const c: Command = Array.isArray(cmd) ? batchOf(cmd) : cmd;
  validateCommand(c); // never put an invalid command in the log
  return packr.pack({ v: COMMAND_VERSION, cmd: wire(c) });
}

/**
 * On the wire a put's chunk list is one byte string of 32-byte hashes, not hex strings: half the size
 * (a small edit of a 64 MiB file names ~1,000 chunks: 34 KB instead of 68 KB in every entry). Entries
 * written with hex lists still decode.
 */
function wire(c: Command): unknown {
  if (c.op === "batch") return { ...c, commands: c.commands.map(wireLeaf) };
  return wireLeaf(c);
}

function wireLeaf(c: LeafCommand): unknown {
  if (c.op !== "put") return c;
  const packed = new Uint8Array(c.chunks.length * 32);
  c.chunks.forEach((h, i) => {
    packed.set(Buffer.from(h, "hex"), i * 32);
  });
  return { ...c, chunks: packed };
}

/** A single command stays itself; several become a batch. */
export function batchOf(commands: LeafCommand[]): Command {
  if (commands.length === 1) return commands[0]!;
  return { op: "batch", commands };
}

export function decodeCommand(data: Uint8Array): Command {
  if (!(data instanceof Uint8Array) || data.length === 0) throw new CommandDecodeError("empty payload");
  let raw: unknown;
  try {
    const values = packr.unpackMultiple(data) as unknown[];
    if (values.length !== 1) throw new Error(`${values.length} values instead of one`);
    raw = values[0];
  } catch (e) {
    throw new CommandDecodeError(`payload is not one msgpack value: ${(e as Error).message}`);
  }
  if (!isRecord(raw)) throw new CommandDecodeError("payload is not a map");
  if (raw.v !== COMMAND_VERSION) {
    throw new CommandDecodeError(`unsupported command version ${JSON.stringify(raw.v)}`);
  }
  return validateCommand(raw.cmd);
}

/**
 * The paths an entry's commands name (undecodable entries name none: every node skips them). What an
 * entry can change besides them follows from them: ancestors become directories, and conflict copies
 * are written beside them under names containing ".sync-conflict-".
 */
export function commandPaths(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  try {
    return leaves(decodeCommand(data)).map((c) => c.path);
  } catch (e) {
    if (e instanceof CommandDecodeError) return [];
    throw e;
  }
}

/** The leaf commands of a command, in apply order. */
export function leaves(cmd: Command): LeafCommand[] {
  return cmd.op === "batch" ? cmd.commands : [cmd];
}

/** Checks a decoded (untrusted) value and returns it as a clean Command with only known fields. */
export function validateCommand(v: unknown): Command {
  if (!isRecord(v)) throw new CommandDecodeError("command is not a map");
  if (v.op === "batch") {
    if (!Array.isArray(v.commands)) throw new CommandDecodeError("batch.commands is not an array");
    if (v.commands.length === 0) throw new CommandDecodeError("batch is empty");
    if (v.commands.length > MAX_BATCH_COMMANDS) {
      throw new CommandDecodeError(`batch has ${v.commands.length} commands (max ${MAX_BATCH_COMMANDS})`);
    }
    return { op: "batch", commands: v.commands.map((c, i) => validateLeaf(c, `batch.commands[${i}]`)) };
  }
  return validateLeaf(v, "command");
}

function validateLeaf(v: unknown, where: string): LeafCommand {
  if (!isRecord(v)) throw new CommandDecodeError(`${where} is not a map`);
  const op = v.op;
  switch (op) {
    case "put": {
      if (v.kind !== "file") throw new CommandDecodeError(`${where}.kind must be "file"`);
      const chunks = hashList(v.chunks, `${where}.chunks`);
      const size = nonNegInt(v.size, `${where}.size`);
      if (size === 0 && chunks.length > 0) throw new CommandDecodeError(`${where}: empty file with chunks`);
      if (size > 0 && chunks.length === 0)
        throw new CommandDecodeError(`${where}: non-empty file without chunks`);
      const named = new Set(chunks);
      if (!Array.isArray(v.inline)) throw new CommandDecodeError(`${where}.inline is not an array`);
      const inline = v.inline.map((c, i): InlineChunk => {
        const w = `${where}.inline[${i}]`;
        if (!isRecord(c)) throw new CommandDecodeError(`${w} is not a map`);
        const hash = hashString(c.hash, `${w}.hash`);
        if (!named.has(hash)) throw new CommandDecodeError(`${w} is not one of the file's chunks`);
        if (!(c.data instanceof Uint8Array)) throw new CommandDecodeError(`${w}.data is not bytes`);
        return { hash, data: c.data };
      });
      const deltas = v.deltas === undefined ? [] : deltaList(v.deltas, named, `${where}.deltas`);
      return {
        op,
        path: relPath(v.path, `${where}.path`),
        kind: "file",
        mode: fileMode(v.mode, `${where}.mode`),
        mtimeMs: finite(v.mtimeMs, `${where}.mtimeMs`),
        size,
        hash: hashString(v.hash, `${where}.hash`),
        chunks,
        inline,
        ...(deltas.length > 0 ? { deltas } : {}),
        base: clock(v.base, `${where}.base`),
        origin: origin(v.origin, `${where}.origin`),
        seq: nonNegInt(v.seq, `${where}.seq`),
      };
    }
    case "delete":
      return {
        op,
        path: relPath(v.path, `${where}.path`),
        base: clock(v.base, `${where}.base`),
        origin: origin(v.origin, `${where}.origin`),
        seq: nonNegInt(v.seq, `${where}.seq`),
      };
    case "mkdir":
      return {
        op,
        path: relPath(v.path, `${where}.path`),
        mode: fileMode(v.mode, `${where}.mode`),
        base: clock(v.base, `${where}.base`),
        origin: origin(v.origin, `${where}.origin`),
      };
    case "rmdir":
      return {
        op,
        path: relPath(v.path, `${where}.path`),
        base: clock(v.base, `${where}.base`),
        origin: origin(v.origin, `${where}.origin`),
      };
    case "batch":
      throw new CommandDecodeError(`${where}: batches do not nest`);
    default:
      throw new CommandDecodeError(`${where}.op ${JSON.stringify(op)} is not put, delete, mkdir or rmdir`);
  }
}

function deltaList(v: unknown, named: Set<string>, where: string): DeltaChunk[] {
  if (!Array.isArray(v)) throw new CommandDecodeError(`${where} is not an array`);
  return v.map((d, i): DeltaChunk => {
    const w = `${where}[${i}]`;
    if (!isRecord(d)) throw new CommandDecodeError(`${w} is not a map`);
    const hash = hashString(d.hash, `${w}.hash`);
    if (!named.has(hash)) throw new CommandDecodeError(`${w} is not one of the file's chunks`);
    if (!(d.middle instanceof Uint8Array)) throw new CommandDecodeError(`${w}.middle is not bytes`);
    return {
      hash,
      base: hashString(d.base, `${w}.base`),
      prefix: nonNegInt(d.prefix, `${w}.prefix`),
      suffix: nonNegInt(d.suffix, `${w}.suffix`),
      middle: d.middle,
    };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function relPath(v: unknown, where: string): string {
  if (typeof v !== "string") throw new CommandDecodeError(`${where} is not a string`);
  let norm: string;
  try {
    norm = normalizeRelPath(v);
  } catch (e) {
    if (e instanceof PathError) throw new CommandDecodeError(`${where}: ${e.message}`);
    throw e;
  }
  // Only canonical paths in the log: two spellings of one file must not become two index entries.
  if (norm !== v) throw new CommandDecodeError(`${where} ${JSON.stringify(v)} is not canonical (${norm})`);
  return norm;
}

function hashString(v: unknown, where: string): string {
  if (typeof v !== "string" || !HASH_RE.test(v)) {
    throw new CommandDecodeError(`${where} is not a lowercase hex sha256`);
  }
  return v;
}

function hashList(v: unknown, where: string): string[] {
  if (v instanceof Uint8Array) {
    if (v.length % 32 !== 0) throw new CommandDecodeError(`${where} is not a whole number of 32-byte hashes`);
    const buf = Buffer.from(v.buffer, v.byteOffset, v.length);
    const out: string[] = new Array(v.length / 32);
    for (let i = 0; i < out.length; i++) out[i] = buf.toString("hex", i * 32, i * 32 + 32);
    return out;
  }
  if (!Array.isArray(v)) throw new CommandDecodeError(`${where} is not an array`);
  return v.map((h, i) => hashString(h, `${where}[${i}]`));
}

function nonNegInt(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new CommandDecodeError(`${where} is not a non-negative integer`);
  }
  return v;
}

function finite(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new CommandDecodeError(`${where} is not a number`);
  return v;
}

function fileMode(v: unknown, where: string): number {
  const m = nonNegInt(v, where);
  if (m > 0o7777) throw new CommandDecodeError(`${where} ${m.toString(8)} is not a permission mode`);
  return m;
}

function origin(v: unknown, where: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_ORIGIN_LENGTH) {
    throw new CommandDecodeError(`${where} is not a node id`);
  }
  return v;
}

function clock(v: unknown, where: string): VectorClock {
  if (!isRecord(v)) throw new CommandDecodeError(`${where} is not a map`);
  const out: VectorClock = {};
  for (const [k, n] of Object.entries(v)) {
    if (k.length === 0 || k.length > MAX_ORIGIN_LENGTH)
      throw new CommandDecodeError(`${where} has a bad node id`);
    Object.defineProperty(out, k, {
      value: nonNegInt(n, `${where}[${JSON.stringify(k)}]`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return normalized(out);
}
