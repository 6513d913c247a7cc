// `pickbox file ...` end to end: the CLI (its own process) against a node's file API.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "bun";
import { InProcessCluster } from "./harness.ts";

const MAIN = path.resolve(import.meta.dir, "../../src/cli/main.ts");
let c: InProcessCluster;
let tmp: string;

beforeAll(async () => {
  c = await InProcessCluster.start(1);
  tmp = mkdtempSync(path.join(os.tmpdir(), "pickbox-cli-file-"));
}, 30_000);
afterAll(async () => {
  await c?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

async function cli(args: string[], stdin?: Uint8Array): Promise<{ code: number; out: Buffer; err: string }> {
  const p = spawn(["bun", MAIN, "file", ...args, "--addr", c.address()], {
    stdin: stdin ? new Blob([stdin]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: Buffer.from(out), err };
}

test("put, cat, get, ls, stat, mv, rm and errors", async () => {
  const local = path.join(tmp, "in.bin");
  const bytes = Buffer.from([1, 2, 3, 10, 0, 255, 10]);
  writeFileSync(local, bytes);
  const put = await cli(["put", local, "dir/a.bin"]);
  expect(put.code).toBe(0);
  expect(put.out.toString()).toMatch(/^dir\/a\.bin: 7 bytes, sha256 [0-9a-f]{64}, version \d+\n$/);
  expect((await cli(["cat", "dir/a.bin"])).out.equals(bytes)).toBe(true);
  const got = path.join(tmp, "out.bin");
  expect((await cli(["get", "dir/a.bin", got])).code).toBe(0);
  expect(readFileSync(got).equals(bytes)).toBe(true);
  expect((await cli(["put", "-", "dir/stdin.txt"], Buffer.from("from stdin"))).code).toBe(0);
  expect((await cli(["cat", "dir/stdin.txt", "--stale"])).out.toString()).toBe("from stdin");
  expect((await cli(["ls"])).out.toString()).toBe("dir/\n");
  expect((await cli(["ls", "dir"])).out.toString()).toBe("dir/a.bin\ndir/stdin.txt\n");
  expect((await cli(["ls", "-r", "--long"])).out.toString()).toMatch(
    /^d {2}0755 .* {2}dir\n- {2}0644 +7 {2}.* {2}dir\/a\.bin\n/,
  );
  expect((await cli(["stat", "dir/a.bin"])).out.toString()).toMatch(
    /^path: dir\/a\.bin\nkind: file\nsize: 7\nmode: 644\n/,
  );
  expect((await cli(["mv", "dir/a.bin", "dir/b.bin"])).code).toBe(0);
  expect((await cli(["rm", "dir/b.bin"])).code).toBe(0);
  const missing = await cli(["cat", "dir/b.bin"]);
  expect(missing.code).toBe(1);
  expect(missing.err).toMatch(/^Error: ENOENT: dir\/b\.bin does not exist/);
  const hostile = await cli(["put", local, "../escape"]);
  expect(hostile.code).toBe(1);
  expect(hostile.err).toMatch(/^Error: EPATH: /);
}, 60_000);
