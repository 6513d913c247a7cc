// Finds where one admin command ends in a byte stream. The original read once (≤4096 bytes) and took that as
// the command, so large or TCP-split requests were cut; this framer reads as much as the command needs:
//   * a line ends at the first "\n" ("\r\n" too);
//   * a FORWARD ends as soon as its JSON object is complete (a newline inside the JSON does not end it,
//     a newline before the `{` does), so the original's no-newline forwarder is answered at once;
//   * anything else without a newline is decided by the server (quiet period, EOF or idle timeout) using
//     pending().
// Work is linear in the bytes received: each byte is examined once, base64 strings are skipped with indexOf.

export type FrameResult =
  | { type: "more" }
  | { type: "command"; bytes: Buffer }
  | { type: "too-large"; limit: number };

export interface FramerLimits {
  /** Largest FORWARD command (bytes up to the end of its JSON). */
  maxCommandBytes: number;
  /** Largest command of any other kind (a line). */
  maxLineBytes: number;
}

/** Bytes looked at to tell a FORWARD from a line; AUTH secrets longer than this make it a line. */
const HEAD_BYTES = 1024;
/** Bytes allowed between the word FORWARD and its `{` (the original ignored that text; it is never long). */
const MAX_FORWARD_GAP = 4096;

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

type Mode = "head" | "line" | "forward";

export class CommandFramer {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private mode: Mode = "head";
  /** Global offset up to which bytes have been examined in the current mode. */
  private scanned = 0;
  // FORWARD JSON scanner state.
  private bodyStart = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly limits: FramerLimits) {}

  get size(): number {
    return this.total;
  }

  /** True once the command is known to be a FORWARD (whose end is its JSON, never a quiet period). */
  get isForward(): boolean {
    return this.mode === "forward";
  }

  /** Everything received so far, for a decision by quiet period, EOF or timeout. */
  pending(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
  }

  push(chunk: Buffer): FrameResult {
    if (chunk.length === 0) return { type: "more" };
    this.chunks.push(chunk);
    this.total += chunk.length;
    if (this.mode === "head") this.classify();
    if (this.mode === "line") return this.scanLine();
    if (this.mode === "forward") return this.scanForward();
    return { type: "more" };
  }

  private classify(): void {
    const head = this.headText();
    const decided = classifyHead(head);
    if (decided === "undecided") {
      if (this.total >= HEAD_BYTES) this.mode = "line";
      return;
    }
    if (decided === "line") {
      this.mode = "line";
    } else {
      this.mode = "forward";
      this.bodyStart = decided.bodyStart;
      this.scanned = decided.bodyStart;
    }
  }

  private headText(): string {
    const n = Math.min(this.total, HEAD_BYTES);
    let out = "";
    for (const c of this.chunks) {
      if (out.length >= n) break;
      out += c.toString("latin1", 0, Math.min(c.length, n - out.length));
    }
    return out;
  }

  private scanLine(): FrameResult {
    let base = 0;
    for (const c of this.chunks) {
      const end = base + c.length;
      if (end > this.scanned) {
        const from = Math.max(0, this.scanned - base);
        const i = c.indexOf(NL, from);
        if (i !== -1) {
          const at = base + i;
          if (at > this.limits.maxLineBytes) return { type: "too-large", limit: this.limits.maxLineBytes };
          return { type: "command", bytes: this.slice(at, true) };
        }
      }
      base = end;
    }
    this.scanned = this.total;
    if (this.total > this.limits.maxLineBytes) return { type: "too-large", limit: this.limits.maxLineBytes };
    return { type: "more" };
  }

  private scanForward(): FrameResult {
    let base = 0;
    for (const c of this.chunks) {
      const end = base + c.length;
      if (end > this.scanned) {
        const r = this.scanForwardChunk(c, Math.max(0, this.scanned - base), base);
        if (r) return r;
      }
      base = end;
    }
    this.scanned = this.total;
    if (this.depth === 0 && this.total - this.bodyStart > MAX_FORWARD_GAP) {
      // No `{` in sight: answer now (the server replies "Invalid FORWARD command format").
      return { type: "command", bytes: this.slice(this.total, false) };
    }
    if (this.total > this.limits.maxCommandBytes)
      return { type: "too-large", limit: this.limits.maxCommandBytes };
    return { type: "more" };
  }

  private scanForwardChunk(c: Buffer, from: number, base: number): FrameResult | null {
    let i = from;
    let nextBackslash = -2; // cached c.indexOf(BACKSLASH, …): base64 has none, so one search per chunk
    while (i < c.length) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        const q = c.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = c.indexOf(BACKSLASH, i);
        if (nextBackslash !== -1 && (q === -1 || nextBackslash < q)) {
          this.escaped = true;
          i = nextBackslash + 1;
          continue;
        }
        if (q === -1) return null;
        this.inString = false;
        i = q + 1;
        continue;
      }
      const b = c[i]!;
      if (this.depth === 0) {
        if (b === NL) return this.done(base + i, true);
        if (b === OPEN) this.depth = 1;
      } else if (b === QUOTE) {
        this.inString = true;
      } else if (b === OPEN) {
        this.depth++;
      } else if (b === CLOSE) {
        this.depth--;
        if (this.depth === 0) return this.done(base + i + 1, false);
      }
      i++;
    }
    return null;
  }

  private done(at: number, isNewline: boolean): FrameResult {
    if (at > this.limits.maxCommandBytes) return { type: "too-large", limit: this.limits.maxCommandBytes };
    return { type: "command", bytes: this.slice(at, isNewline) };
  }

  /** Bytes [0, at), without a trailing "\r" when the command ended at a newline. */
  private slice(at: number, stripCr: boolean): Buffer {
    const all = this.pending();
    let end = at;
    if (stripCr && end > 0 && all[end - 1] === CR) end--;
    return all.subarray(0, end);
  }
}

/**
 * Looks at the start of the stream: "forward" (with the offset right after the word FORWARD), "line", or
 * "undecided" while the bytes could still be the start of `[AUTH <secret> ]FORWARD`.
 */
export function classifyHead(s: string): "undecided" | "line" | { bodyStart: number } {
  const isWs = (ch: string | undefined) => ch === " " || ch === "\t" || ch === "\r";
  let i = 0;
  while (isWs(s[i])) i++;
  if (i === s.length) return "undecided";
  if (s.startsWith("AUTH", i)) {
    i += 4;
    if (i === s.length) return "undecided";
    if (!isWs(s[i])) return "line";
    while (isWs(s[i])) i++;
    while (i < s.length && !isWs(s[i]) && s[i] !== "\n") i++;
    if (i === s.length) return "undecided";
    if (s[i] === "\n") return "line";
    while (isWs(s[i])) i++;
    if (i === s.length) return "undecided";
  } else if ("AUTH".startsWith(s.slice(i))) {
    return "undecided";
  }
  const word = "FORWARD";
  if (s.startsWith(word, i)) {
    const after = s[i + word.length];
    if (after === undefined) return "undecided";
    if (isWs(after) || after === "\n" || after === "{") return { bodyStart: i + word.length };
    return "line";
  }
  return word.startsWith(s.slice(i)) ? "undecided" : "line";
}
