import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { sha256Hex } from "../../src/store/chunker.ts";
import {
  applyDelta,
  COMMAND_VERSION,
  type Command,
  CommandDecodeError,
  decodeCommand,
  deltaOf,
  encodeCommand,
  leaves,
  type PutCommand,
} from "../../src/store/commands.ts";
import { put } from "./fsm-fixture.ts";
import { seededBytes } from "./seeded-bytes.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const raw = (cmd: unknown, v: unknown = 1) => packr.pack({ v, cmd });
const H = "a".repeat(64);

describe("command codec", () => {
  test("every op round-trips", () => {
    const cmds: Command[] = [
      put("dir/file.bin", new Uint8Array([0, 1, 2, 255]), { base: { n2: 3, n1: 1 }, mode: 0o600, seq: 9 }),
      put("empty", ""),
      { op: "delete", path: "x", base: { n1: 2 }, origin: "n1", seq: 4 },
      { op: "mkdir", path: "d/e", mode: 0o755, base: {}, origin: "n3" },
      { op: "rmdir", path: "d/e", base: { n3: 1 }, origin: "n3" },
      { op: "batch", commands: [put("a", "1"), { op: "delete", path: "b", base: {}, origin: "n1", seq: 1 }] },
    ];
    for (const c of cmds) {
      const back = decodeCommand(encodeCommand(c));
      expect(plain(back)).toEqual(plain(c));
    }
  });

  test("an array of commands encodes as one batch; one command stays itself", () => {
    const two = decodeCommand(encodeCommand([put("a", "1"), put("b", "2")]));
    expect(two.op).toBe("batch");
    expect(leaves(two).map((c) => c.path)).toEqual(["a", "b"]);
    expect(decodeCommand(encodeCommand([put("a", "1")])).op).toBe("put");
  });

  test("clocks are normalised: zero entries dropped, keys sorted", () => {
    const c = decodeCommand(raw({ ...put("a", "1"), base: { z: 1, a: 0, m: 2 } }));
    expect(c.op === "put" && Object.entries(c.base)).toEqual([
      ["m", 2],
      ["z", 1],
    ]);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ["empty payload", new Uint8Array(0), /empty/],
    ["never-used byte", new Uint8Array([0xc1]), /./],
    ["truncated", raw(put("a", "hello")).subarray(0, 20), /msgpack/],
    ["trailing garbage", Buffer.concat([raw(put("a", "1")), Buffer.from([1, 2])]), /msgpack/],
    ["JSON text", new TextEncoder().encode('{"op":"write"}'), /./],
    ["future version", raw(put("a", "1"), 2), /version/],
    ["unknown op", raw({ op: "chmod", path: "a" }), /op/],
    ["parent escape", raw({ ...put("a", "1"), path: "../etc/passwd" }), /\.\./],
    ["absolute", raw({ ...put("a", "1"), path: "/etc/passwd" }), /absolute/],
    ["state dir", raw({ ...put("a", "1"), path: ".pickbox/state.db" }), /\.pickbox/],
    ["non-canonical", raw({ ...put("a", "1"), path: "a//b" }), /canonical/],
    ["NUL", raw({ op: "delete", path: "a\u0000b", base: {}, origin: "n", seq: 1 }), /control/],
    ["bad hash", raw({ ...put("a", "1"), hash: "xyz" }), /hash|sha256/],
    ["uppercase hash", raw({ ...put("a", "1"), hash: H.toUpperCase() }), /sha256/],
    ["negative size", raw({ ...put("a", "1"), size: -1 }), /size/],
    ["mode too big", raw({ ...put("a", "1"), mode: 0o17777 }), /mode/],
    ["chunks missing", raw({ ...put("a", "1"), chunks: [] }), /without chunks/],
    [
      "foreign inline chunk",
      raw({ ...put("a", "1"), inline: [{ hash: H, data: new Uint8Array(1) }] }),
      /not one of/,
    ],
    [
      "inline data not bytes",
      raw({ ...put("a", "1"), inline: [{ hash: put("a", "1").chunks[0], data: "x" }] }),
      /bytes/,
    ],
    ["bad clock value", raw({ ...put("a", "1"), base: { n1: -1 } }), /base/],
    ["clock not a map", raw({ ...put("a", "1"), base: [1] }), /base/],
    ["no origin", raw({ ...put("a", "1"), origin: "" }), /origin/],
    ["nested batch", raw({ op: "batch", commands: [{ op: "batch", commands: [put("a", "1")] }] }), /nest/],
    ["empty batch", raw({ op: "batch", commands: [] }), /empty/],
    [
      "bad leaf in batch",
      raw({ op: "batch", commands: [put("a", "1"), { op: "delete", path: "../x" }] }),
      /commands\[1\]/,
    ],
  ];
  for (const [name, data, msg] of bad) {
    test(`rejects ${name}`, () => {
      let err: unknown;
      try {
        decodeCommand(data);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CommandDecodeError);
      expect((err as Error).message).toMatch(msg);
    });
  }

  test("encode refuses an invalid command instead of logging it", () => {
    expect(() => encodeCommand({ ...put("a", "1"), path: "../x" })).toThrow(CommandDecodeError);
  });
});

/** Bytes as hex, so Buffer and Uint8Array compare equal; key order does not matter to toEqual. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

describe("chunk lists on the wire", () => {
  const hashes = Array.from({ length: 1000 }, (_, i) => sha256Hex(new TextEncoder().encode(`chunk ${i}`)));
  const big: PutCommand = {
    ...put("big.bin", "x"),
    size: 64 * 1024 * 1000,
    chunks: hashes,
    inline: [],
  };

  test("a put's chunk list travels as 32-byte binary hashes and decodes to the same hex list", () => {
    const bytes = encodeCommand(big);
    const hexForm = packr.pack({ v: COMMAND_VERSION, cmd: big });
    expect(bytes.length).toBeLessThan(hexForm.length - 30 * hashes.length);
    expect(decodeCommand(bytes)).toEqual(big);
  });

  test("entries written with hex chunk lists (the earlier format) still decode", () => {
    expect(decodeCommand(packr.pack({ v: COMMAND_VERSION, cmd: big }))).toEqual(big);
  });

  test("a binary chunk list that is not whole 32-byte hashes is refused", () => {
    const bad = packr.pack({ v: COMMAND_VERSION, cmd: { ...big, chunks: new Uint8Array(33) } });
    expect(() => decodeCommand(bad)).toThrow(CommandDecodeError);
  });
});

describe("chunks carried as differences", () => {
  const rnd = seededBytes;

  test("deltaOf and applyDelta: an overwrite, an insert and a cut each rebuild the very chunk", () => {
    const base = rnd(200_000, 1);
    const cases: Uint8Array[] = [];
    const overwrite = base.slice();
    overwrite.set(rnd(4096, 2), 90_000);
    cases.push(overwrite);
    cases.push(new Uint8Array([...base.subarray(0, 50_000), ...rnd(777, 3), ...base.subarray(50_000)]));
    cases.push(new Uint8Array([...base.subarray(0, 10_000), ...base.subarray(30_000)]));
    cases.push(base.slice()); // unchanged: an empty middle
    for (const data of cases) {
      const d = deltaOf(sha256Hex(data), data, sha256Hex(base), base);
      expect(d.prefix + d.middle.length + d.suffix).toBe(data.length);
      expect(sha256Hex(applyDelta(d, base)!)).toBe(d.hash);
    }
    const d = deltaOf(sha256Hex(overwrite), overwrite, sha256Hex(base), base);
    expect(d.middle.length).toBeLessThanOrEqual(4096); // only the edited span travels
    // A base too short for the delta cannot be its base.
    expect(applyDelta(d, base.subarray(0, 1000))).toBeNull();
  });

  test("a put with deltas round-trips; deltas naming a chunk the file lacks, or bad fields, are refused", () => {
    const base = rnd(100_000, 4);
    const data = base.slice();
    data[500] = (data[500]! + 1) & 0xff;
    const delta = deltaOf(sha256Hex(data), data, sha256Hex(base), base);
    // (A file of one chunk, for the test: the command names that chunk.)
    const cmd: PutCommand = {
      ...put("f.bin", data, { outOfBand: new Map() }),
      chunks: [delta.hash],
      deltas: [delta],
    };
    const back = decodeCommand(encodeCommand(cmd)) as PutCommand;
    expect(plain(back)).toEqual(plain(cmd));
    // A put without deltas decodes without the field (older entries, and every other producer).
    expect("deltas" in (decodeCommand(encodeCommand(put("g", "x"))) as PutCommand)).toBe(false);
    const bad = (d: unknown) => raw({ ...cmd, deltas: [d] });
    expect(() => decodeCommand(bad({ ...delta, hash: H }))).toThrow(/not one of the file's chunks/);
    expect(() => decodeCommand(bad({ ...delta, base: "xyz" }))).toThrow(CommandDecodeError);
    expect(() => decodeCommand(bad({ ...delta, prefix: -1 }))).toThrow(CommandDecodeError);
    expect(() => decodeCommand(bad({ ...delta, middle: "text" }))).toThrow(CommandDecodeError);
    expect(() => decodeCommand(raw({ ...cmd, deltas: "no" }))).toThrow(CommandDecodeError);
  });
});
