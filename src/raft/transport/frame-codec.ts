import { addExtension, Packr, RESERVE_START_SPACE, Unpackr } from "msgpackr";
import { type Frame, isFrame } from "./frames.ts";

/**
 * Frame format on the wire: a 4-byte big-endian payload length, then the msgpack payload (one map, see
 * frames.ts). Binary fields (entry data, snapshot chunks, nonces) travel as msgpack bin and decode as
 * plain Uint8Array.
 */
export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** A connection's bytes do not form a valid frame: the only safe reaction is to drop the connection. */
export class FrameError extends Error {
  override name = "FrameError";
}

// useRecords: false keeps every frame self-describing (no per-connection structure state to lose on
// reconnect); maps decode as plain objects.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Encodes a frame with its length header in one buffer. msgpackr writes the payload after 4 reserved
 * bytes, so the header costs no extra copy. The result stays valid: msgpackr never rewrites it.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const out = packr.pack(frame, RESERVE_START_SPACE | FRAME_HEADER_BYTES) as Uint8Array;
  const payloadBytes = out.byteLength - FRAME_HEADER_BYTES;
  new DataView(out.buffer, out.byteOffset, FRAME_HEADER_BYTES).setUint32(0, payloadBytes, false);
  return out;
}

/** Binary values at least this large are written to the socket as they are, not copied into the frame. */
export const BULK_PIECE_BYTES = 64 * 1024;

/**
 * A frame with attachments: its payload is ATTACHED, the msgpack part's length (4 bytes, big-endian),
 * the msgpack part, then the bulk binary values back to back. In the msgpack part each of them is a
 * placeholder (fixext 4 of type ATTACHMENT_EXT holding its length), in the order they are attached.
 * The receiver then hands each value out as a view of the bytes the socket delivered, wherever it lies
 * within one of them: megabytes of pushed chunks are not copied into one contiguous frame first (a copy
 * into fresh memory, ~30 ms of a receiver's CPU per 64 MiB, and as much garbage).
 * 0xc1 is the one byte msgpack never uses, so no plain frame starts with it.
 */
const ATTACHED = 0xc1;
const ATTACHED_HEAD_BYTES = 5;
const ATTACHMENT_EXT = 0x50;

/** Hands out the next attached value while an attached frame's msgpack part is decoded (unpack is
 * synchronous, so one at a time); null otherwise, when a placeholder is an error. */
let nextAttachment: ((bytes: number) => Uint8Array) | null = null;
addExtension({
  type: ATTACHMENT_EXT,
  unpack(data: Uint8Array) {
    if (!nextAttachment || data.byteLength !== 4)
      throw new FrameError("attachment outside an attached frame");
    return nextAttachment(((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0);
  },
});

/**
 * Encodes a frame as pieces to be written back to back, to be decoded by FrameDecoder or decodePayload
 * into the same frame as encodeFrame's. Binary values of BULK_PIECE_BYTES or more are attached (see
 * ATTACHED): pieces of their own, referenced rather than copied, so a request carrying megabytes of
 * chunks costs no encode copy; they must not change until written. The rest is msgpack written piece by
 * piece (msgpack is compositional: a map is its header followed by its keys and values, each encoded on
 * its own). Without bulk values this is [encodeFrame(frame)].
 */
export function encodeFramePieces(frame: Frame): Uint8Array[] {
  if (!hasBulk(frame, 0)) return [encodeFrame(frame)];
  // Small pieces stay separate: the frame queue coalesces them into one write anyway.
  const header = new Uint8Array(FRAME_HEADER_BYTES + ATTACHED_HEAD_BYTES);
  const pieces: Uint8Array[] = [header];
  const attached: Uint8Array[] = [];
  let metaBytes = 0;
  let attachedBytes = 0;
  const add = (b: Uint8Array) => {
    pieces.push(b);
    metaBytes += b.byteLength;
  };
  const walk = (v: unknown, depth: number) => {
    if (v instanceof Uint8Array && v.byteLength >= BULK_PIECE_BYTES) {
      const placeholder = new Uint8Array(6);
      placeholder[0] = 0xd6; // fixext 4
      placeholder[1] = ATTACHMENT_EXT;
      new DataView(placeholder.buffer).setUint32(2, v.byteLength, false);
      add(placeholder);
      attached.push(v);
      attachedBytes += v.byteLength;
    } else if (!hasBulk(v, depth)) {
      add(packSmall(v));
    } else if (Array.isArray(v)) {
      add(containerHead(0x90, 0xdc, v.length));
      for (const x of v) walk(x, depth + 1);
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      add(containerHead(0x80, 0xde, entries.length));
      for (const [key, x] of entries) {
        add(packSmall(key));
        walk(x, depth + 1);
      }
    }
  };
  walk(frame, 0);
  const view = new DataView(header.buffer);
  view.setUint32(0, ATTACHED_HEAD_BYTES + metaBytes + attachedBytes, false);
  header[FRAME_HEADER_BYTES] = ATTACHED;
  view.setUint32(FRAME_HEADER_BYTES + 1, metaBytes, false);
  pieces.push(...attached);
  return pieces;
}

const keyCache = new Map<string, Uint8Array>();
const utf8 = new TextEncoder();

/**
 * msgpack of a value with no bulk in it. A chunk push has a few keys and a hash string per chunk:
 * those are written directly (packr.pack costs microseconds a call, thousands of calls per push).
 */
function packSmall(v: unknown): Uint8Array {
  if (typeof v !== "string" || v.length > 255) return packr.pack(v) as Uint8Array;
  const cached = keyCache.get(v);
  if (cached) return cached;
  const out = new Uint8Array(2 + v.length * 3);
  const { written } = utf8.encodeInto(v, out.subarray(2));
  if (written > 255) return packr.pack(v) as Uint8Array;
  out[0] = 0xd9; // str8
  out[1] = written;
  const s = out.subarray(0, 2 + written);
  if (v.length <= 16 && keyCache.size < 64) keyCache.set(v, s); // keys, not hashes
  return s;
}

/** Nesting deeper than this is encoded whole (frames are shallow; this only bounds the search). */
const MAX_BULK_DEPTH = 6;

function hasBulk(v: unknown, depth: number): boolean {
  if (v instanceof Uint8Array) return v.byteLength >= BULK_PIECE_BYTES;
  if (typeof v !== "object" || v === null || depth >= MAX_BULK_DEPTH) return false;
  if (Array.isArray(v)) return v.some((x) => hasBulk(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) if (hasBulk((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** msgpack header of an array (fix 0x90, 16-bit 0xdc, 32-bit 0xdd) or map (0x80, 0xde, 0xdf) of n items. */
function containerHead(fix: number, n16: number, n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(fix | n);
  if (n < 0x10000) return Uint8Array.of(n16, n >> 8, n & 0xff);
  const b = new Uint8Array(5);
  b[0] = n16 + 1;
  new DataView(b.buffer).setUint32(1, n, false);
  return b;
}

/** msgpack of `{k: "snapChunk", d: <bin32 header>}`, up to where the chunk's bytes start. */
const SNAP_CHUNK_PREFIX = Uint8Array.from([
  0x82, // map of 2
  0xa1,
  0x6b, // "k"
  0xa9,
  ...new TextEncoder().encode("snapChunk"),
  0xa1,
  0x64, // "d"
  0xc6, // bin32, length follows
]);
const CHUNK_HEAD_BYTES = SNAP_CHUNK_PREFIX.byteLength + 4;

/**
 * The frame header and msgpack prefix of a snapshot chunk frame, to be written immediately before the
 * chunk's own bytes: bulk data goes to the socket without being copied into an encode buffer.
 * Decodes exactly like encodeFrame({ k: "snapChunk", d }).
 */
export function encodeChunkFrameHead(dataBytes: number): Uint8Array {
  const head = new Uint8Array(FRAME_HEADER_BYTES + SNAP_CHUNK_PREFIX.byteLength + 4);
  const view = new DataView(head.buffer);
  view.setUint32(0, SNAP_CHUNK_PREFIX.byteLength + 4 + dataBytes, false);
  head.set(SNAP_CHUNK_PREFIX, FRAME_HEADER_BYTES);
  view.setUint32(FRAME_HEADER_BYTES + SNAP_CHUNK_PREFIX.byteLength, dataBytes, false);
  return head;
}

// Decoding from a plain Uint8Array (not a Buffer) makes msgpackr return bin fields as Uint8Array.
// copyBuffers: bin fields must not pin a whole socket chunk; frames that were already copied out of
// the socket chunks skip the second copy.
const copyingUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: true });
const viewingUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, copyBuffers: false });

/** Frames at least this large may keep views into the received bytes instead of copies. */
const LARGE_FRAME_BYTES = 64 * 1024;

/**
 * Decodes one frame payload (without header); throws FrameError when it is not a valid frame.
 * `mayView`: bin fields may be views into `payload` (else they are copies).
 */
export function decodePayload(payload: Uint8Array, mayView = false): Frame {
  if (payload[0] === ATTACHED) {
    let at = 0;
    return decodeAttached(payload.byteLength, (n) => {
      const out = payload.subarray(at, at + n);
      at += n;
      return mayView ? out : out.slice();
    });
  }
  return decodeMsgpack(payload, mayView);
}

function decodeMsgpack(payload: Uint8Array, mayView: boolean): Frame {
  let value: unknown;
  try {
    value = (mayView ? viewingUnpackr : copyingUnpackr).unpack(payload);
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError(`undecodable frame: ${(err as Error).message}`);
  }
  if (!isFrame(value)) throw new FrameError("malformed frame");
  return value;
}

/** Decodes an attached frame of `length` payload bytes, read in order through `take`. */
function decodeAttached(length: number, take: (n: number) => Uint8Array): Frame {
  if (length < ATTACHED_HEAD_BYTES) throw new FrameError("attached frame too short");
  const head = take(ATTACHED_HEAD_BYTES);
  const metaBytes = new DataView(head.buffer, head.byteOffset, ATTACHED_HEAD_BYTES).getUint32(1, false);
  let left = length - ATTACHED_HEAD_BYTES - metaBytes;
  if (metaBytes === 0 || left < 0) throw new FrameError("attached frame's msgpack part overruns it");
  const meta = take(metaBytes);
  nextAttachment = (n) => {
    if (n > left) throw new FrameError("attachment overruns its frame");
    left -= n;
    return take(n);
  };
  let frame: Frame;
  try {
    frame = decodeMsgpack(meta, false);
  } finally {
    nextAttachment = null;
  }
  if (left !== 0) throw new FrameError(`${left} attached bytes no placeholder names`);
  return frame;
}

/**
 * Streaming decoder: TCP delivers arbitrary slices of the byte stream, so a frame may span many chunks
 * and one chunk may hold many frames. Holds at most one partial frame plus the unread tail.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  /** Payload length of the frame being assembled, once its header has been read. */
  private pendingLength = -1;
  /** The pending frame's head was already found not to be a raw snapshot chunk (look once per frame). */
  private headChecked = false;
  /** Data bytes of a streamed snapshot chunk frame not yet returned. */
  private rawRemaining = 0;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    // A plain view: msgpackr then yields Uint8Array (not Buffer) for bin fields.
    this.chunks.push(
      chunk.constructor === Uint8Array
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.buffered += chunk.byteLength;
  }

  /**
   * The next frame, or null until more bytes arrive. Throws FrameError on a bad stream.
   *
   * A snapshot chunk frame in the layout of encodeChunkFrameHead is not buffered whole: its data comes
   * out as one or more `snapChunk` frames as bytes arrive, each a view of the received bytes (bulk data
   * is never copied).
   */
  next(): Frame | null {
    if (this.rawRemaining > 0) return this.nextRawPiece();
    if (this.pendingLength < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return null;
      const header = this.take(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false);
      if (length === 0) throw new FrameError("empty frame");
      if (length > this.maxFrameBytes) {
        throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      this.pendingLength = length;
      this.headChecked = false;
    }
    if (this.pendingLength >= CHUNK_HEAD_BYTES && !this.headChecked) {
      if (this.buffered < CHUNK_HEAD_BYTES) return null;
      if (this.startsWithChunkPrefix()) return this.beginRawChunk();
      this.headChecked = true;
    }
    if (this.buffered < this.pendingLength) return null;
    if (this.chunks[0]![this.offset] === ATTACHED) {
      // Attached values come out as views of the received chunks, copies only where they straddle two.
      const length = this.pendingLength;
      this.pendingLength = -1;
      return decodeAttached(length, (n) => this.take(n));
    }
    const first = this.chunks[0]!;
    const copied = first.byteLength - this.offset < this.pendingLength;
    const payload = this.take(this.pendingLength);
    // Small frames copy their bin fields out, so they do not pin a whole socket chunk; a large frame's
    // fields may view the chunk (it is mostly that frame anyway), saving a copy of bulk data.
    const mayView = copied || this.pendingLength >= LARGE_FRAME_BYTES;
    this.pendingLength = -1;
    return decodePayload(payload, mayView);
  }

  private startsWithChunkPrefix(): boolean {
    const head = this.peek(SNAP_CHUNK_PREFIX.byteLength);
    for (let i = 0; i < head.byteLength; i++) if (head[i] !== SNAP_CHUNK_PREFIX[i]) return false;
    return true;
  }

  private beginRawChunk(): Frame | null {
    const head = this.take(CHUNK_HEAD_BYTES);
    const dataBytes = new DataView(head.buffer, head.byteOffset + SNAP_CHUNK_PREFIX.byteLength, 4).getUint32(
      0,
      false,
    );
    if (dataBytes !== this.pendingLength - CHUNK_HEAD_BYTES)
      throw new FrameError("snapshot chunk length mismatch");
    this.pendingLength = -1;
    this.rawRemaining = dataBytes;
    if (dataBytes === 0) return { k: "snapChunk", d: new Uint8Array(0) };
    return this.nextRawPiece();
  }

  private nextRawPiece(): Frame | null {
    if (this.buffered === 0) return null;
    const first = this.chunks[0]!;
    const n = Math.min(this.rawRemaining, first.byteLength - this.offset);
    this.rawRemaining -= n;
    return { k: "snapChunk", d: this.take(n) };
  }

  /** Copies the first n buffered bytes without consuming them (n is small). */
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.offset;
    for (const chunk of this.chunks) {
      const count = Math.min(chunk.byteLength - offset, n - filled);
      out.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      offset = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Removes n buffered bytes: a view when they sit in one chunk, else a fresh copy. */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0]!;
    const available = first.byteLength - this.offset;
    if (available >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.byteLength) {
        this.chunks.shift();
        this.offset = 0;
      }
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.byteLength - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.offset += count;
      if (this.offset === chunk.byteLength) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    return out;
  }
}
