import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { headlessSink } from "../../../tui/headless.ts";
import { parsePinoLine, tailLog } from "../../../tui/source/log-tail.ts";
import { waitFor } from "../../integration/helpers/cluster.ts";
import { member, nodeStatus, threeHealthy } from "../fixtures.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("parsePinoLine", () => {
  test("level, node and message with extra fields; junk is null", () => {
    expect(
      parsePinoLine(
        '{"level":40,"time":"2026-01-02T03:04:05.000Z","node":"node2","msg":"join attempt failed","via":"x:1"}',
      ),
    ).toEqual({
      level: "warn",
      node: "node2",
      msg: "join attempt failed via=x:1",
      at: Date.UTC(2026, 0, 2, 3, 4, 5),
    });
    expect(parsePinoLine('{"level":30,"time":12345,"msg":"m"}')!.at).toBe(12345);
    expect(parsePinoLine('{"level":30,"msg":"no time"}')!.at).toBeNull();
    expect(parsePinoLine('{"level":50,"msg":"boom"}')!.level).toBe("error");
    expect(parsePinoLine('{"level":20,"msg":"d"}')!.level).toBe("debug");
    expect(parsePinoLine("not json")).toBeNull();
  });
});

describe("tailLog", () => {
  test("reports recent lines, then appended ones (a partial line waits for its newline)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pickbox-tui-log-"));
    dirs.push(dir);
    const file = path.join(dir, "node.log");
    writeFileSync(file, '{"level":30,"msg":"before"}\n');
    const got: string[] = [];
    const stop = tailLog({ file, onLine: (l) => got.push(l.msg), everyMs: 10 });
    try {
      await waitFor("backlog line", () => got.includes("before"), 5000, 10);
      appendFileSync(file, '{"level":30,"msg":"af');
      appendFileSync(file, 'ter"}\n{"level":30,"msg":"third"}\n');
      await waitFor("appended lines", () => got.length === 3, 5000, 10);
      expect(got).toEqual(["before", "after", "third"]);
    } finally {
      stop();
    }
  });
});

describe("headlessSink", () => {
  test("prints leader changes, unreachable members, events and logs as plain lines", () => {
    const out: string[] = [];
    const sink = headlessSink(
      (l) => out.push(l),
      () => 0,
    );
    sink.cluster(threeHealthy(), "node1", "admin a:1");
    sink.cluster(threeHealthy(), "node1", "admin a:1"); // no change, no line
    sink.cluster(
      [
        member("node1", null),
        member("node2", nodeStatus("node2", { role: "leader", term: 3 })),
        member("node3", nodeStatus("node3")),
      ],
      "node2",
      "admin b:2",
    );
    sink.cluster(
      [member("node1", null), member("node2", nodeStatus("node2", { leader: null })), member("node3", null)],
      "node2",
      "admin b:2",
    );
    sink.event({
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node2",
      size: 3,
      node: "node3",
      at: 10,
      mtimeMs: 5,
    });
    sink.event({ type: "conflict", path: "b", conflictPath: "b.sync-conflict", node: "node1" });
    sink.log("warn", "node1", "slow disk");
    sink.clusterError("gone");
    sink.clusterError("gone");
    const text = out.map((l) => l.slice(9).trimEnd());
    expect(text).toEqual([
      "cluster via admin a:1 (node1): 3 members, leader node1, term 2",
      "cluster via admin b:2 (node2): 3 members, leader node2, term 3",
      "node1 unreachable: connection refused",
      "cluster via admin b:2 (node2): 3 members, no leader",
      "node3 unreachable: connection refused",
      "node3 put a.txt from node2 3 B 5ms",
      "node1 conflict b CONFLICT copy b.sync-conflict",
      "warn node1: slow disk",
      "error: gone",
    ]);
  });
});
