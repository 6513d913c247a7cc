import { describe, expect, test } from "bun:test";
import { parseStatus } from "../../src/admin/admin-client.ts";
import { adminRole, formatStatus, formatUptime, statusJson } from "../../src/admin/admin-status.ts";
import { FIXED_STATUS } from "./fake-admin-handler.ts";

describe("adminRole", () => {
  test("prints hashicorp/raft's names; PreCandidate shows as Candidate", () => {
    expect(adminRole("leader")).toBe("Leader");
    expect(adminRole("follower")).toBe("Follower");
    expect(adminRole("candidate")).toBe("Candidate");
    expect(adminRole("preCandidate")).toBe("Candidate");
  });
});

describe("formatUptime", () => {
  test.each([
    [0, "0s"],
    [999, "0s"],
    [59_000, "59s"],
    [60_000, "1m0s"],
    [3_600_000, "1h0m0s"],
    [90_061_000, "1d1h1m1s"],
    [-5, "0s"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatUptime(ms)).toBe(text);
  });
});

describe("formatStatus / parseStatus", () => {
  test("parseStatus reads back every key, peers as a list", () => {
    const p = parseStatus(formatStatus(FIXED_STATUS));
    expect(p).toMatchObject({
      node: "node1",
      state: "Leader",
      term: "3",
      leader: "node1",
      leader_addr: "127.0.0.1:8001",
      leader_admin: "127.0.0.1:9001",
      peers: "3",
      commit_index: "42",
      applied_index: "41",
      last_log_index: "42",
      files: "2",
      bytes: "1234",
      uptime: "1h2m3s",
      version: "0.1.0-test",
    });
    expect(p.peer).toEqual([
      "node1 127.0.0.1:8001 voter match=42 lag=0 last_contact=0ms",
      "node2 127.0.0.1:8002 voter match=40 lag=2 last_contact=12ms",
      "node9 127.0.0.1:8009 learner match=- lag=- last_contact=-",
    ]);
  });

  test("no leader prints none; a newline inside a value cannot forge a key", () => {
    const text = formatStatus({
      ...FIXED_STATUS,
      leader: null,
      leaderAddr: null,
      leaderAdmin: null,
      node: "evil\nstate: Follower",
    });
    const p = parseStatus(text);
    expect(p.leader).toBe("none");
    expect(p.leader_admin).toBe("none");
    expect(p.state).toBe("Leader");
    expect(text.split("\n").filter((l) => l.startsWith("state:"))).toEqual(["state: Leader"]);
  });

  test("parseStatus throws the server's error", () => {
    expect(() => parseStatus("ERROR: Unknown command\n")).toThrow("ERROR: Unknown command");
  });

  test("statusJson is one line and uses null for unknowns", () => {
    const line = statusJson({ ...FIXED_STATUS, leader: null });
    expect(line.endsWith("\n") && line.indexOf("\n") === line.length - 1).toBe(true);
    expect(JSON.parse(line).leader).toBeNull();
    expect(JSON.parse(line).peers[2]).toEqual({
      id: "node9",
      address: "127.0.0.1:8009",
      voter: false,
      match: null,
      lag: null,
      last_contact_ms: null,
    });
  });
});
