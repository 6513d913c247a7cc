// The admin command grammar: `[AUTH <secret> ]<WORD> [args...]`, the command word case-sensitive and
// matched exactly (the original matched prefixes, so `ADD_VOTERX a b` was an ADD_VOTER; here it is an
// unknown command). FORWARD is the one exception: `FORWARD{...}` (no space) is still a FORWARD, because the
// original ignored whatever stood between the word and the first `{`.

export interface CommandSpec {
  minArgs: number;
  maxArgs: number;
  /** Needs `AUTH <secret>` when the node has a cluster secret. */
  mutating: boolean;
  usage: string;
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  ADD_VOTER: { minArgs: 2, maxArgs: 2, mutating: true, usage: "ADD_VOTER <nodeID> <address>" },
  ADD_LEARNER: { minArgs: 2, maxArgs: 2, mutating: true, usage: "ADD_LEARNER <nodeID> <address>" },
  REMOVE: { minArgs: 1, maxArgs: 1, mutating: true, usage: "REMOVE <nodeID>" },
  TRANSFER: { minArgs: 0, maxArgs: 1, mutating: true, usage: "TRANSFER [<nodeID>]" },
  FORWARD: { minArgs: 0, maxArgs: Number.POSITIVE_INFINITY, mutating: true, usage: "FORWARD <json>" },
  STATUS: { minArgs: 0, maxArgs: 0, mutating: false, usage: "STATUS" },
  STATUS_JSON: { minArgs: 0, maxArgs: 0, mutating: false, usage: "STATUS_JSON" },
  CLUSTER_JSON: { minArgs: 0, maxArgs: 0, mutating: false, usage: "CLUSTER_JSON" },
  PEERS: { minArgs: 0, maxArgs: 0, mutating: false, usage: "PEERS" },
  FILES: { minArgs: 0, maxArgs: 1, mutating: false, usage: "FILES [prefix]" },
  SUBSCRIBE: { minArgs: 0, maxArgs: 0, mutating: false, usage: "SUBSCRIBE" },
};

const WORDS = Object.keys(COMMANDS);

export interface ParsedCommand {
  /** The secret given with `AUTH <secret>`, or null when there was no AUTH prefix. */
  auth: string | null;
  /** Command word; "" for empty input. */
  word: string;
  /** Whitespace-separated arguments after the word. */
  args: string[];
  /** Raw text after the word (FORWARD's JSON lives here). */
  rest: string;
}

/** Thrown for `AUTH` without a secret and a command after it. */
export class AuthFormatError extends Error {
  override name = "AuthFormatError";
}

const AUTH_RE = /^AUTH\s+(\S+)\s+(\S[\s\S]*)$/;

/** Splits a trimmed command line. Throws AuthFormatError for a malformed AUTH prefix. */
export function parseCommand(line: string): ParsedCommand {
  let text = line.trim();
  let auth: string | null = null;
  if (text === "AUTH" || /^AUTH\s/.test(text)) {
    const m = AUTH_RE.exec(text);
    if (!m) throw new AuthFormatError("Invalid AUTH format. Usage: AUTH <secret> <command>");
    auth = m[1]!;
    text = m[2]!.trim();
  }
  // FORWARD's rest is its JSON (up to 64 MiB): never split it into arguments.
  if (text.startsWith("FORWARD{"))
    return { auth, word: "FORWARD", args: [], rest: text.slice("FORWARD".length) };
  const m = /^\S*/.exec(text)!;
  const word = m[0];
  const rest = text.slice(word.length);
  if (word === "FORWARD") return { auth, word, args: [], rest };
  const args = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  return { auth, word, args, rest };
}

/**
 * Whether a line received without a newline is a whole command, so the server may answer it after a short
 * quiet period. Anything that more bytes could still turn into a valid command ("STAT", "ADD_VOTER n2",
 * "AUTH s3cret") is incomplete; everything else — valid or definitely wrong — is complete. FORWARD is
 * framed by its JSON, not by this check.
 */
export function isCompleteLine(line: string): boolean {
  const text = line.replace(/^\s+/, "");
  if (text === "") return false;
  if ("AUTH".startsWith(text)) return false;
  let body = text;
  if (/^AUTH\s/.test(text)) {
    const m = /^AUTH\s+(\S+)(\s+)?([\s\S]*)$/.exec(text);
    if (!m?.[2] || m[3] === "") return false; // secret or command not there yet
    body = m[3]!;
  }
  const trailingSpace = /\s$/.test(body);
  const parts = body.trim().split(/\s+/);
  const word = parts[0]!;
  const args = parts.length - 1;
  if (word === "FORWARD" || word.startsWith("FORWARD{")) return false;
  const spec = COMMANDS[word];
  if (spec) return args >= spec.minArgs;
  // An unknown word that is still the start of a known one may yet become it.
  return !(args === 0 && !trailingSpace && WORDS.some((w) => w.startsWith(word)));
}
