import { describe, expect, test } from "bun:test";
import { AuthFormatError, isCompleteLine, parseCommand } from "../../src/admin/command-syntax.ts";

describe("parseCommand", () => {
  test("splits word and arguments, trimming whitespace", () => {
    expect(parseCommand("  ADD_VOTER  node2\t127.0.0.1:8002 \r")).toEqual({
      auth: null,
      word: "ADD_VOTER",
      args: ["node2", "127.0.0.1:8002"],
      rest: "  node2\t127.0.0.1:8002",
    });
    expect(parseCommand("STATUS")).toMatchObject({ word: "STATUS", args: [] });
    expect(parseCommand("")).toMatchObject({ word: "", args: [] });
  });

  test("AUTH prefix", () => {
    expect(parseCommand("AUTH s3cret REMOVE node2")).toMatchObject({
      auth: "s3cret",
      word: "REMOVE",
      args: ["node2"],
    });
    expect(() => parseCommand("AUTH s3cret")).toThrow(AuthFormatError);
    expect(() => parseCommand("AUTH")).toThrow(AuthFormatError);
    expect(parseCommand("AUTHORS x")).toMatchObject({ auth: null, word: "AUTHORS" });
  });

  test("FORWARD keeps its JSON as rest, with or without a space", () => {
    expect(parseCommand('FORWARD {"a": "b c"}')).toEqual({
      auth: null,
      word: "FORWARD",
      args: [],
      rest: ' {"a": "b c"}',
    });
    expect(parseCommand('FORWARD{"a":1}')).toEqual({
      auth: null,
      word: "FORWARD",
      args: [],
      rest: '{"a":1}',
    });
    expect(parseCommand('AUTH k FORWARD{"a":1}')).toMatchObject({
      auth: "k",
      word: "FORWARD",
      rest: '{"a":1}',
    });
  });
});

describe("isCompleteLine (a newline-less command may be answered after the quiet period)", () => {
  test.each([
    ["STATUS", true],
    ["STATUS_JSON", true],
    ["PEERS", true],
    ["FILES", true],
    ["FILES dir/", true],
    ["TRANSFER", true],
    ["ADD_VOTER n2 127.0.0.1:8002", true],
    ["ADD_VOTER a b c", true],
    ["REMOVE n2", true],
    ["HELLO", true],
    ["STAT US", true],
    ["STATU ", true],
    ["AUTH k STATUS", true],
    ["", false],
    ["   ", false],
    ["S", false],
    ["STAT", false],
    ["ADD_", false],
    ["ADD_VOTER", false],
    ["ADD_VOTER n2", false],
    ["ADD_VOTER n2 ", false],
    ["REMOVE", false],
    ["A", false],
    ["AUTH", false],
    ["AUTH k", false],
    ["AUTH k ", false],
    ["AUTH k ADD_VOTER n2", false],
    ["FORWARD", false],
    ['FORWARD {"op":"write"}', false],
  ])("%j → %p", (line, complete) => {
    expect(isCompleteLine(line)).toBe(complete);
  });
});
