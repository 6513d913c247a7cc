import { describe, expect, test } from "bun:test";
import { CommandFramer, classifyHead, type FrameResult } from "../../src/admin/command-framer.ts";

const limits = { maxCommandBytes: 1 << 20, maxLineBytes: 1024 };

/** Feeds `parts` in order and returns the first non-"more" result (or "more"). */
function feed(parts: string[], l = limits): FrameResult & { text?: string } {
  const f = new CommandFramer(l);
  for (const p of parts) {
    const r = f.push(Buffer.from(p, "utf8"));
    if (r.type === "command") return { ...r, text: r.bytes.toString("utf8") };
    if (r.type !== "more") return r;
  }
  return { type: "more" };
}

/** Every way of cutting `s` into two pieces, plus byte-by-byte. */
function splits(s: string): string[][] {
  const out: string[][] = [[s], s.split("")];
  for (let i = 1; i < s.length; i++) out.push([s.slice(0, i), s.slice(i)]);
  return out;
}

describe("classifyHead", () => {
  test.each([
    ["", "undecided"],
    ["  ", "undecided"],
    ["F", "undecided"],
    ["FORWAR", "undecided"],
    ["AU", "undecided"],
    ["AUTH", "undecided"],
    ["AUTH ", "undecided"],
    ["AUTH sec", "undecided"],
    ["AUTH sec ", "undecided"],
    ["AUTH sec FORW", "undecided"],
    ["STATUS", "line"],
    ["FOO", "line"],
    ["FORWARDX", "line"],
    ["AUTHX", "line"],
    ["AUTH sec\n", "line"],
    ["AUTH sec STATUS", "line"],
    ["FORW\n", "line"],
  ])("%j → %s", (head, expected) => {
    expect(classifyHead(head)).toBe(expected as "line");
  });

  test.each([
    ["FORWARD ", 7],
    ["FORWARD{", 7],
    ["  FORWARD\t", 9],
    ["FORWARD\n", 7],
    ["AUTH s3cret FORWARD {", 19],
  ])("%j → forward, body at %d", (head, at) => {
    expect(classifyHead(head)).toEqual({ bodyStart: at });
  });
});

describe("lines", () => {
  test("a line ends at the first newline, however the bytes are cut", () => {
    for (const parts of splits("ADD_VOTER n2 127.0.0.1:8002\nREMOVE x\n")) {
      expect(feed(parts)).toMatchObject({ type: "command", text: "ADD_VOTER n2 127.0.0.1:8002" });
    }
  });

  test("\\r\\n loses its \\r", () => {
    expect(feed(["STATUS\r\n"])).toMatchObject({ type: "command", text: "STATUS" });
  });

  test("no newline yet → more; pending() holds the bytes", () => {
    const f = new CommandFramer(limits);
    expect(f.push(Buffer.from("STAT"))).toEqual({ type: "more" });
    expect(f.push(Buffer.from("US"))).toEqual({ type: "more" });
    expect(f.pending().toString()).toBe("STATUS");
    expect(f.isForward).toBe(false);
  });

  test("a line longer than maxLineBytes is too large, with or without a later newline", () => {
    expect(feed(["x".repeat(1025)])).toEqual({ type: "too-large", limit: 1024 });
    expect(feed(["x".repeat(2000), "\n"])).toEqual({ type: "too-large", limit: 1024 });
    expect(feed([`${"x".repeat(1000)}\n`])).toMatchObject({ type: "command" });
  });
});

describe("FORWARD", () => {
  const line = 'FORWARD {"op":"write","path":"we{ir}d \\"name\\\\","data":"aGk=","chunk":{"a":[{}]}}';

  test("ends exactly at the closing brace of its JSON, however the bytes are cut", () => {
    for (const parts of splits(`${line}trailing junk`)) {
      const r = feed(parts);
      expect(r).toMatchObject({ type: "command", text: line });
      expect(JSON.parse(r.text!.slice(8)).path).toBe('we{ir}d "name\\');
    }
  });

  test("a newline inside the JSON does not end it; one before the { does", () => {
    expect(feed(['FORWARD {\n"op":"delete",\n"path":"a"\n}'])).toMatchObject({
      type: "command",
      text: 'FORWARD {\n"op":"delete",\n"path":"a"\n}',
    });
    expect(feed(["FORWARD junk\n{}"])).toMatchObject({ type: "command", text: "FORWARD junk" });
  });

  test("incomplete JSON → more, and the framer knows it is a FORWARD", () => {
    const f = new CommandFramer(limits);
    expect(f.push(Buffer.from('AUTH k FORWARD {"op":"write","data":"AAAA'))).toEqual({ type: "more" });
    expect(f.isForward).toBe(true);
  });

  test("larger than maxCommandBytes → too large", () => {
    const big = `FORWARD {"data":"${"A".repeat(2000)}"}`;
    expect(feed([big], { maxCommandBytes: 1000, maxLineBytes: 100 })).toEqual({
      type: "too-large",
      limit: 1000,
    });
    expect(feed([big], { maxCommandBytes: 5000, maxLineBytes: 100 })).toMatchObject({
      type: "command",
      text: big,
    });
  });

  test("more than 4 KiB before the { → answered at once (so the server says Invalid FORWARD command format)", () => {
    const r = feed([`FORWARD ${" x".repeat(3000)}`]);
    expect(r.type).toBe("command");
    expect(r.text!.includes("{")).toBe(false);
  });

  test("scanning is linear: 32 MiB of base64 in 64 KiB chunks frames quickly", () => {
    const f = new CommandFramer({ maxCommandBytes: 64 << 20, maxLineBytes: 1024 });
    const body = Buffer.alloc(32 << 20, "Q");
    f.push(Buffer.from('FORWARD {"op":"write","path":"p","data":"'));
    const t0 = performance.now();
    for (let i = 0; i < body.length; i += 65536)
      expect(f.push(body.subarray(i, i + 65536)).type).toBe("more");
    const r = f.push(Buffer.from('"}'));
    expect(r.type).toBe("command");
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
