import { expect, test } from "bun:test";
import { clusterView } from "../../src/monitor/cluster-view.ts";
import { baseStatus } from "./fake-node.ts";

const leader = baseStatus();
const follower = (id: string, applied: number) =>
  baseStatus({ node: id, role: "follower", applied, commit: 42, progress: [], uptimeMs: 1500 });

test("every member, leader first; lag from the leader's commit; replication lag and contact from its progress", () => {
  const rows = clusterView(
    [
      { id: "node3", voter: true, address: "127.0.0.1:8003", status: follower("node3", 42), error: null },
      { id: "node2", voter: true, address: "127.0.0.1:8002", status: follower("node2", 30), error: null },
      { id: "node1", voter: true, address: "127.0.0.1:8001", status: leader, error: null },
    ],
    50,
  );
  expect(rows.map((r) => r.id)).toEqual(["node1", "node2", "node3"]);
  expect(rows[0]).toMatchObject({
    state: "Leader",
    up: true,
    lag: 1,
    replicationLag: 0,
    lastContactMs: 0,
    files: 7,
  });
  expect(rows[1]).toMatchObject({
    state: "Follower",
    lag: 12,
    replicationLag: 4,
    lastContactMs: 150,
    uptime: "1.5s",
  });
  expect(rows[2]).toMatchObject({ lag: 0, replicationLag: 0, lastContactMs: 50 });
});

test("a member that does not answer is down with its error and no numbers", () => {
  const rows = clusterView(
    [
      { id: "node1", voter: true, address: "a:1", status: null, error: "timed out" },
      { id: "node2", voter: true, address: "a:2", status: follower("node2", 42), error: null },
      { id: "evil", voter: false, address: "<b>x</b>:1", status: null, error: null },
    ],
    50,
  );
  // No leader answered: no lag for anyone.
  expect(rows.find((r) => r.id === "node1")).toMatchObject({
    up: false,
    error: "timed out",
    state: null,
    lag: null,
  });
  expect(rows.find((r) => r.id === "node2")).toMatchObject({ up: true, lag: null, replicationLag: null });
  expect(rows.find((r) => r.id === "evil")).toMatchObject({ up: false, error: "no answer", voter: false });
});

test("two members claiming leadership: the higher term wins", () => {
  const old = baseStatus({ node: "node1", term: 3, commit: 10 });
  const cur = baseStatus({ node: "node2", term: 4, commit: 50, progress: [] });
  const rows = clusterView(
    [
      { id: "node1", voter: true, address: "a:1", status: old, error: null },
      { id: "node2", voter: true, address: "a:2", status: cur, error: null },
    ],
    50,
  );
  expect(rows[0]!.id).toBe("node2");
  expect(rows.find((r) => r.id === "node1")!.lag).toBe(50 - old.applied);
});
