import { describe, expect, test } from "bun:test";
import { bar, fit, fitPath, formatBytes, formatDuration } from "../../../tui/format.ts";
import { feedModel } from "../../../tui/model/feed-model.ts";
import { logModel } from "../../../tui/model/log-model.ts";
import { initialState, withCluster, withEvent, withLogLine } from "../../../tui/model/tui-state.ts";
import { threeHealthy } from "../fixtures.ts";

describe("feedModel", () => {
  test("newest first, with reach, slowest latency and kinds", () => {
    let s = withCluster(initialState("attach", "t"), threeHealthy(), "node1", "t", 0);
    const ev = {
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node2",
      size: 2048,
      index: 5,
      applyMs: 1,
      mtimeMs: 1000,
    };
    s = withEvent(s, { ...ev, node: "node2", at: 1004 }, 0);
    s = withEvent(s, { ...ev, node: "node1", at: 1012 }, 0);
    s = withEvent(
      s,
      {
        type: "conflict",
        path: "b.txt",
        conflictPath: "b.sync-conflict.txt",
        origin: "node3",
        size: 1,
        index: 6,
        node: "node1",
        at: 2000,
      },
      0,
    );
    s = withEvent(
      s,
      { type: "delete", op: "delete", path: "c.txt", origin: "node1", index: 7, node: "node1", at: 3000 },
      0,
    );
    const rows = feedModel(s);
    expect(rows.map((r) => [r.op, r.path, r.kind])).toEqual([
      ["delete", "c.txt", "delete"],
      ["conflict", "b.txt", "conflict"],
      ["put", "a.txt", "normal"],
    ]);
    expect(rows[2]).toMatchObject({ origin: "node2", size: "2.0 KiB", reach: "2/3", latency: "12ms" });
    expect(rows[1]!.detail).toBe("copy b.sync-conflict.txt");
    expect(feedModel(s, "node3").map((r) => r.path)).toEqual(["b.txt"]);
    s = withEvent(
      s,
      {
        type: "local-edit-preserved",
        path: "d.txt",
        movedTo: "d.sync-conflict.txt",
        index: 8,
        node: "node2",
      },
      0,
    );
    s = withEvent(
      s,
      { type: "apply", op: "mkdir", path: "dir", origin: "node1", size: 0, index: 9, node: "node2" },
      0,
    );
    expect(
      feedModel(s)
        .slice(0, 2)
        .map((r) => [r.op, r.size, r.detail]),
    ).toEqual([
      ["mkdir", "", ""],
      ["kept", "", "kept as d.sync-conflict.txt"],
    ]);
  });
});

describe("logModel", () => {
  test("newest first, node-prefixed, filtered", () => {
    let s = initialState("attach", "t");
    s = withLogLine(s, { at: 0, level: "info", node: "node1", msg: "hello" });
    s = withLogLine(s, { at: 0, level: "warn", node: null, msg: "careful" });
    expect(logModel(s).map((r) => r.text)).toEqual(["careful", "node1: hello"]);
    expect(logModel(s, "NODE1").map((r) => r.level)).toEqual(["info"]);
    // A line read late from a log file still sorts by its own time.
    s = withLogLine(s, { at: -5, level: "debug", node: null, msg: "older, arrived last" });
    expect(logModel(s).map((r) => r.text)).toEqual(["careful", "node1: hello", "older, arrived last"]);
  });
});

describe("format", () => {
  test("sizes, durations, fixed widths, paths and bars", () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(3 * 1024 ** 3)]).toEqual([
      "0 B",
      "1023 B",
      "1.5 KiB",
      "3.0 GiB",
    ]);
    expect([
      formatDuration(12.4),
      formatDuration(4200),
      formatDuration(185_000),
      formatDuration(7_800_000),
      formatDuration(90_000_000),
    ]).toEqual(["12ms", "4.2s", "3m05s", "2h10m", "1d1h"]);
    expect(fit("abc", 5)).toBe("abc  ");
    expect(fit("abc", 5, "right")).toBe("  abc");
    expect(fit("abcdef", 4)).toBe("abc…");
    expect(fit("a\nb", 3)).toBe("a?b");
    const p = fitPath("very/long/folder/name/file.txt", 16);
    expect(Array.from(p)).toHaveLength(16);
    expect(p.endsWith("file.txt")).toBe(true);
    expect(bar(0.5, 10)).toBe("#####.....");
    expect(bar(2, 4, "█", "░")).toBe("████");
  });
});
