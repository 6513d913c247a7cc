import { describe, expect, test } from "bun:test";
import { pack } from "msgpackr";
import {
  decodePayload,
  encodeChunkFrameHead,
  encodeFrame,
  encodeFramePieces,
  FrameDecoder,
  FrameError,
} from "../../../src/raft/transport/frame-codec.ts";
import type { Frame } from "../../../src/raft/transport/frames.ts";
import { appMessage } from "./helpers.ts";

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

function sampleFrames(): Frame[] {
  return [
    { k: "msg", m: appMessage(7, [{ term: 3, index: 8, type: 0, data: allBytes }]) },
    { k: "req", id: 1, p: { op: "read", path: "a/b.txt", blob: new Uint8Array([0, 255, 1]) } },
    { k: "res", id: 1, ok: false, e: "nope" },
    { k: "snapChunk", d: new Uint8Array(70_000).fill(9) },
    { k: "snapEnd" },
  ];
}

function frameWithLength(length: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  new DataView(out.buffer).setUint32(0, length, false);
  out.set(payload, 4);
  return out;
}

function drain(d: FrameDecoder): Frame[] {
  const out: Frame[] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  return out;
}

describe("frame codec", () => {
  test("header is the big-endian payload length", () => {
    const bytes = encodeFrame({ k: "snapEnd" });
    const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, false);
    expect(len).toBe(bytes.byteLength - 4);
    expect(decodePayload(bytes.subarray(4))).toEqual({ k: "snapEnd" });
  });

  test("binary data round-trips as plain Uint8Array", () => {
    const d = new FrameDecoder();
    d.push(encodeFrame(sampleFrames()[0]!));
    const f = d.next();
    expect(f?.k).toBe("msg");
    const data = (f as Extract<Frame, { k: "msg" }>).m.entries[0]!.data;
    expect(data.constructor).toBe(Uint8Array);
    expect(data).toEqual(allBytes);
  });

  test("frames split byte by byte decode identically", () => {
    const frames = sampleFrames();
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
    const d = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < stream.byteLength; i++) {
      d.push(stream.subarray(i, i + 1));
      got.push(...drain(d));
    }
    expect(got).toEqual(frames);
    expect(d.bufferedBytes).toBe(0);
  });

  test("many frames merged into one chunk, and chunk edges at odd places", () => {
    const frames = sampleFrames();
    const stream = Buffer.concat([...frames, ...frames].map((f) => encodeFrame(f)));
    const whole = new FrameDecoder();
    whole.push(stream);
    expect(drain(whole)).toEqual([...frames, ...frames]);

    const cuts = [3, 5, 4, 100, 7, 65_536, 13];
    const d = new FrameDecoder();
    const got: Frame[] = [];
    let at = 0;
    for (let i = 0; at < stream.byteLength; i++) {
      const n = cuts[i % cuts.length]!;
      d.push(stream.subarray(at, at + n));
      at += n;
      got.push(...drain(d));
    }
    expect(got).toEqual([...frames, ...frames]);
  });

  test("a decoded frame does not alias the bytes pushed in", () => {
    const bytes = Buffer.from(encodeFrame({ k: "snapChunk", d: new Uint8Array([1, 2, 3]) }));
    const d = new FrameDecoder();
    d.push(bytes);
    const f = d.next() as Extract<Frame, { k: "snapChunk" }>;
    bytes.fill(0);
    expect(f.d).toEqual(new Uint8Array([1, 2, 3]));
  });

  test("oversize length is rejected as soon as the header arrives", () => {
    const d = new FrameDecoder(1024);
    d.push(frameWithLength(1025));
    expect(() => d.next()).toThrow(FrameError);
    const ok = new FrameDecoder(1024);
    ok.push(frameWithLength(10));
    expect(ok.next()).toBeNull(); // header accepted, waiting for the payload
  });

  test("empty, undecodable and non-frame payloads are rejected", () => {
    const cases = [
      frameWithLength(0),
      frameWithLength(3, new Uint8Array([0xc1, 0xc1, 0xc1])),
      frameWithLength(2, new Uint8Array([0x93, 0x01])),
      (() => {
        const p = pack({ k: "msg", m: { type: "app" } });
        return frameWithLength(p.byteLength, p);
      })(),
      (() => {
        const p = pack({ k: "nope" });
        return frameWithLength(p.byteLength, p);
      })(),
      (() => {
        const p = pack([1, 2, 3]);
        return frameWithLength(p.byteLength, p);
      })(),
    ];
    for (const c of cases) {
      const d = new FrameDecoder();
      d.push(c);
      expect(() => d.next()).toThrow(FrameError);
    }
  });

  test("a message with a malformed entry is rejected", () => {
    const bad = {
      k: "msg",
      m: { ...appMessage(1), entries: [{ term: 1, index: 1, type: 0, data: "text" }] },
    };
    const p = pack(bad);
    const d = new FrameDecoder();
    d.push(frameWithLength(p.byteLength, p));
    expect(() => d.next()).toThrow(FrameError);
  });

  describe("streamed snapshot chunk frames", () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff);
    const stream = () =>
      Buffer.concat([
        encodeFrame({ k: "snapEnd" }),
        encodeChunkFrameHead(data.byteLength),
        data,
        encodeChunkFrameHead(0),
        encodeFrame({ k: "req", id: 9, p: "after" }),
      ]);

    /** Splits a decoded sequence back into [frames before, joined chunk data, frames after]. */
    function expectShape(got: Frame[]) {
      expect(got[0]).toEqual({ k: "snapEnd" });
      const pieces = got.slice(1, -1);
      for (const p of pieces) expect(p.k).toBe("snapChunk");
      const joined = Buffer.concat(pieces.map((p) => (p as Extract<Frame, { k: "snapChunk" }>).d));
      expect(new Uint8Array(joined)).toEqual(data);
      expect(got.at(-1)).toEqual({ k: "req", id: 9, p: "after" });
    }

    test("the head decodes like a msgpack snapChunk frame", () => {
      const whole = Buffer.concat([encodeChunkFrameHead(3), new Uint8Array([1, 2, 3])]);
      expect(decodePayload(whole.subarray(4))).toEqual({ k: "snapChunk", d: new Uint8Array([1, 2, 3]) });
    });

    test("data comes out as views of the received chunks, in one piece when it arrived in one", () => {
      const bytes = stream();
      const d = new FrameDecoder();
      d.push(bytes);
      const got = drain(d);
      expectShape(got);
      const piece = (got[1] as Extract<Frame, { k: "snapChunk" }>).d;
      expect(piece.byteLength).toBe(data.byteLength);
      expect(piece.buffer).toBe(bytes.buffer); // not copied
    });

    test("split byte by byte and at odd edges, data and following frames are intact", () => {
      const bytes = stream();
      for (const step of [1, 5, 4096, 65_537]) {
        const d = new FrameDecoder();
        const got: Frame[] = [];
        for (let at = 0; at < bytes.byteLength; at += step) {
          d.push(bytes.subarray(at, at + step));
          got.push(...drain(d));
        }
        expectShape(got);
        expect(d.bufferedBytes).toBe(0);
      }
    });

    test("a head whose inner length disagrees with the frame length is rejected", () => {
      const head = encodeChunkFrameHead(10);
      new DataView(head.buffer).setUint32(head.byteLength - 4, 11, false);
      const d = new FrameDecoder();
      d.push(Buffer.concat([head, new Uint8Array(10)]));
      expect(() => d.next()).toThrow(FrameError);
    });

    test("the frame size limit applies to streamed chunks too", () => {
      const d = new FrameDecoder(1000);
      d.push(encodeChunkFrameHead(2000));
      expect(() => d.next()).toThrow(FrameError);
    });
  });
});

describe("encodeFramePieces", () => {
  const blob = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const join = (pieces: Uint8Array[]) => new Uint8Array(Buffer.concat(pieces));

  test("a frame without bulk values is one piece, the same bytes as encodeFrame", () => {
    for (const f of sampleFrames().filter((f) => f.k !== "snapChunk")) {
      const pieces = encodeFramePieces(f);
      expect(pieces.length).toBe(1);
      expect(pieces[0]).toEqual(encodeFrame(f));
    }
  });

  test("bulk values become pieces of their own, uncopied, and the whole decodes as encodeFrame's frame", () => {
    // The shape of a chunk push: a request with many small and large binaries, nested two levels deep.
    const chunks = Array.from({ length: 20 }, (_, i) => ({
      hash: `h${i}`,
      data: blob(i % 3 === 0 ? 100 : 64 * 1024 + i * 1000, i),
    }));
    const frames: Frame[] = [
      { k: "req", id: 12345, p: { t: "putChunks", chunks, durable: false } },
      { k: "req", id: 7, p: { t: "putChunks", chunks: chunks.slice(0, 3), durable: true } },
      { k: "res", id: 9, ok: true, v: chunks.slice(1, 2) },
      { k: "req", id: 8, p: { t: "x", list: [blob(200_000, 5), "s", 4, null, [blob(70_000, 6)]] } },
      // strings written directly: empty, non-ASCII, and longer than str8 holds
      { k: "req", id: 9, p: { "": "", ключ: "значение ✓", long: "é".repeat(200), d: blob(65_536, 7) } },
    ];
    for (const f of frames) {
      const bytes = join(encodeFramePieces(f));
      expect(new DataView(bytes.buffer).getUint32(0, false)).toBe(bytes.byteLength - 4);
      expect(decodePayload(bytes.subarray(4))).toEqual(decodePayload(encodeFrame(f).subarray(4)));
      expect(decodePayload(bytes.subarray(4))).toEqual(f);
      expect(encodeFramePieces(f).length).toBeGreaterThan(1);
    }
    const first = encodeFramePieces(frames[0]!);
    for (const c of chunks)
      if (c.data.byteLength >= 64 * 1024) expect(first.some((p) => p === c.data)).toBe(true);
  });

  test("attached values come out as views of the chunk they arrived in, copies only across chunk edges", () => {
    const big = [blob(100_000, 1), blob(70_000, 2), blob(90_000, 3)];
    const f: Frame = {
      k: "req",
      id: 4,
      p: { t: "putChunks", chunks: big.map((data, i) => ({ hash: `h${i}`, data })) },
    };
    const bytes = join(encodeFramePieces(f));
    // The first value lies whole in the first received chunk, the second straddles two, the third lies
    // whole in the second chunk.
    const firstEnd = bytes.length - big[2]!.length - big[1]!.length + 1000;
    const a = bytes.slice(0, firstEnd);
    const b = bytes.slice(firstEnd);
    const d = new FrameDecoder();
    d.push(a);
    d.push(b);
    const got = drain(d);
    expect(got).toEqual([f]);
    const chunks = (got[0] as Extract<Frame, { k: "req" }>).p as { chunks: { data: Uint8Array }[] };
    const [c0, c1, c2] = chunks.chunks.map((c) => c.data);
    expect(c0!.constructor).toBe(Uint8Array);
    expect(c0!.buffer).toBe(a.buffer); // a view, not a copy
    expect(c1!.buffer).not.toBe(a.buffer); // straddles: assembled in a buffer of its own
    expect(c1!.buffer).not.toBe(b.buffer);
    expect(c2!.buffer).toBe(b.buffer);
    expect(d.bufferedBytes).toBe(0);
  });

  test("decodePayload of an attached frame copies its values unless allowed to view them", () => {
    const f: Frame = { k: "res", id: 2, ok: true, v: [{ hash: "x", data: blob(80_000, 4) }] };
    const payload = join(encodeFramePieces(f)).subarray(4);
    const copied = decodePayload(payload) as Extract<Frame, { k: "res" }>;
    const viewed = decodePayload(payload, true) as Extract<Frame, { k: "res" }>;
    expect(copied).toEqual(f);
    expect(viewed).toEqual(f);
    const dataOf = (r: Extract<Frame, { k: "res" }>) => (r.v as { data: Uint8Array }[])[0]!.data;
    expect(dataOf(copied).buffer).not.toBe(payload.buffer);
    expect(dataOf(viewed).buffer).toBe(payload.buffer);
  });

  describe("malformed attached frames are refused", () => {
    const f: Frame = {
      k: "req",
      id: 5,
      p: { t: "putChunks", chunks: [{ hash: "a", data: blob(70_000, 8) }] },
    };
    const good = () => join(encodeFramePieces(f));
    const metaLength = (bytes: Uint8Array) => new DataView(bytes.buffer).getUint32(5, false);
    const reject = (bytes: Uint8Array) => {
      const d = new FrameDecoder();
      d.push(bytes);
      expect(() => d.next()).toThrow(FrameError);
      expect(() => decodePayload(bytes.subarray(4))).toThrow(FrameError);
    };

    test("a msgpack part longer than the frame", () => {
      const bytes = good();
      new DataView(bytes.buffer).setUint32(5, bytes.length, false);
      reject(bytes);
    });

    test("a placeholder naming more bytes than are attached", () => {
      const bytes = good();
      const at = 9 + metaLength(bytes) - 4; // the placeholder's length field ends the msgpack part
      new DataView(bytes.buffer).setUint32(at, 70_001, false);
      reject(bytes);
    });

    test("attached bytes no placeholder names", () => {
      const bytes = good();
      const longer = new Uint8Array(bytes.length + 10);
      longer.set(bytes);
      new DataView(longer.buffer).setUint32(0, longer.length - 4, false);
      reject(longer);
    });

    test("a placeholder in a plain frame", () => {
      // msgpack {k: "req", id: 1, p: <fixext 4 of the attachment type>}: nothing is attached to a plain frame
      const map = Uint8Array.from([0x83, ...pack("k"), ...pack("req"), ...pack("id"), 1, ...pack("p")]);
      const payload = Uint8Array.from([...map, 0xd6, 0x50, 0, 0, 0, 4]);
      const bytes = frameWithLength(payload.length, payload);
      const d = new FrameDecoder();
      d.push(bytes);
      expect(() => d.next()).toThrow(FrameError);
    });
  });

  test("pieces fed to a decoder in any split decode to the original frame", () => {
    const f: Frame = {
      k: "req",
      id: 3,
      p: {
        t: "putChunks",
        chunks: [
          { hash: "a", data: blob(150_000, 1) },
          { hash: "b", data: blob(9, 2) },
        ],
      },
    };
    const bytes = join(encodeFramePieces(f));
    const d = new FrameDecoder();
    for (let at = 0; at < bytes.length; at += 40_000) d.push(bytes.subarray(at, at + 40_000));
    expect(drain(d)).toEqual([f]);
  });
});
