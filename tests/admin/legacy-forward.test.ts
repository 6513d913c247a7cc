import { describe, expect, test } from "bun:test";
import {
  decodeStrictBase64,
  encodeForwardLine,
  ForwardFormatError,
  parseForwardJson,
  sha256Hex,
} from "../../src/admin/legacy-forward.ts";
import { seededBytes } from "./fake-admin-handler.ts";

const enc = new TextEncoder();

describe("parseForwardJson", () => {
  test("the Go original's command JSON", () => {
    const json = `{"op":"write","path":"hello.txt","data":"aGVsbG8K","hash":"${sha256Hex(enc.encode("hello\n"))}","node_id":"node2","sequence":3}`;
    const cmd = parseForwardJson(json);
    expect(cmd).toMatchObject({ op: "write", path: "hello.txt", nodeId: "node2", sequence: 3 });
    expect(new TextDecoder().decode(cmd.data!)).toBe("hello\n");
  });

  test("delete: data null or absent gives null; a hash on a delete is not checked against data", () => {
    expect(parseForwardJson('{"op":"delete","path":"a","data":null}').data).toBeNull();
    expect(parseForwardJson('{"op":"delete","path":"a"}').data).toBeNull();
    expect(parseForwardJson(`{"op":"delete","path":"a","hash":"${"0".repeat(64)}"}`).hash).toBe(
      "0".repeat(64),
    );
  });

  test("empty hash and node_id/sequence null count as absent", () => {
    const cmd = parseForwardJson(
      '{"op":"write","path":"a","data":"","hash":"","node_id":null,"sequence":null}',
    );
    expect(cmd).toEqual({ op: "write", path: "a", data: new Uint8Array(0) });
  });

  test.each([
    ["[]", "expected an object"],
    ["null", "expected an object"],
    ['{"op":"write","path":"a","node_id":5}', "node_id must be a string"],
    ['{"op":"write","path":"a","sequence":1.5}', "sequence must be a non-negative integer"],
    ['{"op":"write","path":7}', "path must be a non-empty string"],
    ['{"op":"WRITE","path":"a"}', 'op must be "write" or "delete"'],
    ['{"op":"delete","path":"a","data":"!!"}', "data is not valid base64"],
  ])("%s → %s", (json, message) => {
    expect(() => parseForwardJson(json)).toThrow(ForwardFormatError);
    expect(() => parseForwardJson(json)).toThrow(message);
  });
});

describe("decodeStrictBase64", () => {
  test("accepts exactly canonical padded standard base64", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 1000]) {
      const bytes = seededBytes(n, n + 1);
      expect(Buffer.from(decodeStrictBase64(Buffer.from(bytes).toString("base64")))).toEqual(
        Buffer.from(bytes),
      );
    }
  });

  test.each(["aGk", "aGk==", "a Gk=", "aGk=\n", "aGl=", "-_8=", "aGk=aGk=", "@@@@"])("rejects %j", (s) => {
    expect(() => decodeStrictBase64(s)).toThrow(ForwardFormatError);
  });
});

describe("encodeForwardLine", () => {
  test("round-trips through parseForwardJson with a hash computed from the data", () => {
    const data = seededBytes(5000);
    const line = encodeForwardLine({ op: "write", path: "dir/x.bin", data, nodeId: "node4", sequence: 12 });
    expect(line.startsWith("FORWARD {")).toBe(true);
    const back = parseForwardJson(line.slice("FORWARD ".length));
    expect(back).toMatchObject({
      op: "write",
      path: "dir/x.bin",
      nodeId: "node4",
      sequence: 12,
      hash: sha256Hex(data),
    });
    expect(Buffer.from(back.data!)).toEqual(Buffer.from(data));
  });

  test("a delete carries data null, as Go encodes a nil []byte", () => {
    const line = encodeForwardLine({ op: "delete", path: "gone.txt", data: null });
    expect(JSON.parse(line.slice(8))).toEqual({
      op: "delete",
      path: "gone.txt",
      data: null,
      hash: "",
      node_id: "",
      sequence: 0,
    });
  });
});
