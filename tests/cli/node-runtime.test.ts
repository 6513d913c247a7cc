import { describe, expect, test } from "bun:test";
import { missingJitEnv, NODE_JIT_ENV, startsNode } from "../../src/cli/node-runtime.ts";

describe("node-runtime", () => {
  test("startsNode: only `node start` and `node multi`, after any global options", () => {
    expect(startsNode(["node", "start", "--node-id", "a"])).toBe(true);
    expect(startsNode(["--data-dir", "/d", "node", "multi", "-n", "node1"])).toBe(true);
    expect(startsNode(["node", "--help"])).toBe(false);
    expect(startsNode(["file", "put", "a", "b"])).toBe(false);
    expect(startsNode(["script", "demo-3-nodes"])).toBe(false);
    expect(startsNode([])).toBe(false);
  });

  test("missingJitEnv: what the environment lacks; a value the user set is kept", () => {
    expect(missingJitEnv({})).toEqual({ ...NODE_JIT_ENV });
    expect(missingJitEnv({ BUN_JSC_useFTLJIT: "1" })).toEqual({});
    expect(missingJitEnv({ ...NODE_JIT_ENV })).toEqual({});
  });
});
