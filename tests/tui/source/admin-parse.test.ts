import { describe, expect, test } from "bun:test";
import {
  AdminReplyError,
  clusterFromStatusJson,
  memberAdminAddress,
  parseClusterReply,
  parseFilesReply,
} from "../../../tui/source/admin-parse.ts";
import { answering } from "../../../tui/source/attach-source.ts";
import { member, nodeStatus, threeHealthy } from "../fixtures.ts";

describe("admin replies", () => {
  test("FILES lines become entries; an ERROR reply throws", () => {
    expect(parseFilesReply("a.txt\t12\tabcdefabcdef\t0644\ndir/b\t0\t000000000000\t0600\n")).toEqual([
      { path: "a.txt", size: 12, hash: "abcdefabcdef" },
      { path: "dir/b", size: 0, hash: "000000000000" },
    ]);
    expect(parseFilesReply("")).toEqual([]);
    expect(() => parseFilesReply("ERROR: nope\n")).toThrow(AdminReplyError);
  });

  test("CLUSTER_JSON members; an old node's Unknown command is recognisable", () => {
    const members = threeHealthy();
    members[2] = member("node3", null, { error: "timeout" });
    const parsed = parseClusterReply(JSON.stringify({ members }));
    expect(parsed.map((m) => [m.id, m.status?.role ?? null, m.error])).toEqual([
      ["node1", "leader", null],
      ["node2", "follower", null],
      ["node3", null, "timeout"],
    ]);
    try {
      parseClusterReply("ERROR: Unknown command\n");
      throw new Error("expected a throw");
    } catch (e) {
      expect((e as AdminReplyError).unknownCommand).toBe(true);
    }
  });

  test("STATUS_JSON fallback: the answering node's status, the others listed without one", () => {
    const reply = JSON.stringify({
      node: "node2",
      state: "Leader",
      term: 4,
      leader: "node2",
      leader_addr: "127.0.0.1:8002",
      leader_admin: "127.0.0.1:9002",
      peers: [
        { id: "node1", address: "127.0.0.1:8001", voter: true, match: 9, lag: 1, last_contact_ms: 100 },
        { id: "node2", address: "127.0.0.1:8002", voter: true, match: 10, lag: 0, last_contact_ms: 0 },
      ],
      commit_index: 10,
      applied_index: 10,
      last_log_index: 10,
      files: 1,
      bytes: 5,
      uptime_ms: 1000,
      version: "x",
    });
    const m = clusterFromStatusJson(reply, "127.0.0.1:9002");
    expect(m.map((x) => [x.id, x.status?.role ?? null])).toEqual([
      ["node1", null],
      ["node2", "leader"],
    ]);
    expect(m[1]!.status!.progress.find((p) => p.id === "node1")).toMatchObject({
      match: 9,
      ticksSinceContact: 2,
    });
  });

  test("admin addresses: wildcard binds use the raft host; the answering member is found by address or port", () => {
    expect(
      memberAdminAddress(
        member("node1", nodeStatus("node1", { adminAddress: "0.0.0.0:9001" }), { address: "10.0.0.5:8001" }),
      ),
    ).toBe("10.0.0.5:9001");
    expect(memberAdminAddress(member("node1", null))).toBeNull();
    const members = threeHealthy();
    expect(answering(members, "127.0.0.1:9002")).toBe("node2");
    expect(answering(members, "localhost:9003")).toBe("node3");
    expect(answering(members, "127.0.0.1:1")).toBeNull();
  });
});
