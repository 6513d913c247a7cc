// The file API wire format (see protocol.md beside this file for the whole specification).
//
// Request:  one line `VERB arg arg ...\n` (CR before LF tolerated), then, for WRITE only, exactly
//           <length> raw bytes. Arguments are separated by single spaces; a path that contains a space,
//           '%', or a control character carries them percent-encoded (`my%20file.txt`), so any name
//           travels in one token and the line stays printable (nc-friendly).
// Reply:    `OK [token ...]\n`, or `ERR <CODE> <message>\n`. READ and LIST replies are followed by a
//           payload whose length is the first token after OK.
import { FileApiError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Percent-encodes the bytes a token cannot carry raw: space, '%', controls and DEL. UTF-8 stays as is. */
export function encodeToken(s: string): string {
  if (s.length === 0) return "%";
  // Fast path: nothing to escape.
  if (!/[\s%\u0000-\u001f\u007f]/.test(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c <= 0x20 || c === 0x25 || c === 0x7f || /\s/.test(ch)) {
      for (const b of encoder.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    } else out += ch;
  }
  return out;
}

/** The inverse of encodeToken. A lone "%" is the empty string. Bad escapes or invalid UTF-8 → EINVAL. */
export function decodeToken(t: string): string {
  if (t === "%") return "";
  if (!t.includes("%")) return t;
  const bytes: number[] = [];
  for (let i = 0; i < t.length; ) {
    if (t[i] === "%") {
      const hex = t.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw new FileApiError("EINVAL", `bad percent escape in ${JSON.stringify(t)}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      const cp = t.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of encoder.encode(ch)) bytes.push(b);
      i += ch.length;
    }
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    throw new FileApiError("EINVAL", `token ${JSON.stringify(t)} is not valid UTF-8 after decoding`);
  }
}

export interface RequestLine {
  verb: string;
  args: string[];
}

/** Splits a request line (without its LF) into an upper-case verb and raw (still encoded) arguments. */
export function parseRequestLine(line: string): RequestLine {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  const parts = text.split(" ").filter((p) => p.length > 0);
  const verb = (parts.shift() ?? "").toUpperCase();
  return { verb, args: parts };
}

/** A non-negative safe integer argument, or EINVAL naming it. */
export function parseCount(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d{1,16}$/.test(s))
    throw new FileApiError("EINVAL", `${what} must be a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new FileApiError("EINVAL", `${what} is too large`);
  return n;
}

export function okLine(...tokens: (string | number)[]): Uint8Array {
  return encoder.encode(tokens.length === 0 ? "OK\n" : `OK ${tokens.join(" ")}\n`);
}

export function errLine(code: string, message: string): Uint8Array {
  return encoder.encode(`ERR ${code} ${oneLine(message)}\n`);
}

/** Messages travel on one line: newlines and other controls become spaces. */
export function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim() || "error";
}

/** Parses a reply line (without LF) into either OK tokens or an error. */
export type ReplyLine = { ok: true; tokens: string[] } | { ok: false; code: string; message: string };

export function parseReplyLine(line: string): ReplyLine {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (text === "OK") return { ok: true, tokens: [] };
  if (text.startsWith("OK "))
    return {
      ok: true,
      tokens: text
        .slice(3)
        .split(" ")
        .filter((t) => t.length > 0),
    };
  if (text.startsWith("ERR ")) {
    const rest = text.slice(4);
    const sp = rest.indexOf(" ");
    return sp < 0
      ? { ok: false, code: rest, message: "" }
      : { ok: false, code: rest.slice(0, sp), message: rest.slice(sp + 1) };
  }
  return { ok: false, code: "EPROTO", message: `unexpected reply line ${JSON.stringify(text.slice(0, 80))}` };
}

/** One LIST/STAT row: kind size mode(octal) mtimeMs hash|- version path. */
export interface FileInfo {
  path: string;
  kind: "file" | "dir";
  size: number;
  /** Permission bits. */
  mode: number;
  mtimeMs: number;
  /** sha256 hex of a file's content; "" for a directory. */
  hash: string;
  /** Raft index of the entry that wrote this version: changes whenever the version changes. */
  version: number;
}

export function formatInfo(i: FileInfo): string {
  return [
    i.kind,
    i.size,
    i.mode.toString(8),
    Math.round(i.mtimeMs),
    i.hash || "-",
    i.version,
    encodeToken(i.path),
  ].join(" ");
}

export function parseInfo(tokens: string[]): FileInfo {
  const [kind, size, mode, mtime, hash, version, path] = tokens;
  if ((kind !== "file" && kind !== "dir") || path === undefined)
    throw new FileApiError("EINVAL", `malformed file info ${JSON.stringify(tokens.join(" "))}`);
  return {
    kind,
    size: Number(size),
    mode: Number.parseInt(mode ?? "0", 8),
    mtimeMs: Number(mtime),
    hash: hash === "-" ? "" : (hash ?? ""),
    version: Number(version),
    path: decodeToken(path),
  };
}
