import { afterEach, describe, expect, test } from "bun:test";
import { filesModel } from "../../../tui/model/files-model.ts";
import { transfersModel } from "../../../tui/model/transfers-model.ts";
import type { ClusterMemberStatus } from "../../../tui/model/types.ts";
import { attachSource } from "../../../tui/source/attach-source.ts";
import type { ClusterSource } from "../../../tui/source/cluster-source.ts";
import { TuiStore } from "../../../tui/store/tui-store.ts";
import { waitFor } from "../../integration/helpers/cluster.ts";
import { leaderOf3, member, nodeStatus } from "../fixtures.ts";
import { FakeAdmin } from "./fake-admin.ts";

const started: { admins: FakeAdmin[]; sources: ClusterSource[] } = { admins: [], sources: [] };
afterEach(async () => {
  for (const s of started.sources.splice(0)) await s.stop();
  for (const a of started.admins.splice(0)) await a.close().catch(() => {});
});

/** Three fake members; `down` lists members the cluster reports unreachable; `leader` is who leads. */
async function fakeCluster(o: { clusterJson?: boolean } = {}) {
  const view = { down: new Set<string>(), leader: "node1", files: {} as Record<string, string> };
  const admins: FakeAdmin[] = [];
  const members = (): ClusterMemberStatus[] =>
    ["node1", "node2", "node3"].map((id, i) => {
      if (view.down.has(id)) return member(id, null, { error: "connection refused" });
      const base =
        id === view.leader ? leaderOf3({ node: id, leader: id }) : nodeStatus(id, { leader: view.leader });
      return member(id, { ...base, adminAddress: admins[i]!.address });
    });
  for (const id of ["node1", "node2", "node3"]) {
    const a = new FakeAdmin(id, {
      cluster: o.clusterJson === false ? null : () => JSON.stringify({ members: members() }),
      statusJson: () =>
        `${JSON.stringify({ node: id, state: "Follower", term: 2, leader: "node1", peers: [], commit_index: 1, applied_index: 1, last_log_index: 1, files: 0, bytes: 0, uptime_ms: 5 })}\n`,
      files: () => view.files[id] ?? "",
    });
    await a.listen();
    admins.push(a);
    started.admins.push(a);
  }
  return { view, admins };
}

function startSource(address: string): TuiStore {
  const store = new TuiStore({ mode: "attach", via: address, notifyDelayMs: 0 });
  const source = attachSource({
    address,
    pollMs: 40,
    filesEveryMs: 5000,
    filesAfterEventMs: 10,
    requestTimeoutMs: 2000,
  });
  started.sources.push(source);
  source.start(store);
  return store;
}

describe("attach source", () => {
  test("shows every member, subscribes to each, and refetches a member's files after it applies", async () => {
    const { view, admins } = await fakeCluster();
    const store = startSource(admins[0]!.address);
    await waitFor("three members", () => store.getState().members.length === 3, 5000, 10);
    expect(store.getState().self).toBe("node1");
    await waitFor("a subscription per member", () => admins.every((a) => a.subscriberCount === 1), 5000, 10);

    for (const id of ["node1", "node2", "node3"]) view.files[id] = "a.txt\t5\taaaaaaaaaaaa\t0644\n";
    for (const a of admins)
      a.emit({ type: "apply", op: "put", path: "a.txt", origin: "node2", size: 5, index: 3, applyMs: 1 });
    await waitFor(
      "a.txt agreed on all three",
      () =>
        filesModel(store.getState()).rows[0]?.state === "agreed" &&
        filesModel(store.getState()).rows[0]!.known === 3,
      5000,
      10,
    );
    const feed = store.getState().feed;
    expect(feed).toHaveLength(1);
    expect(Object.keys(feed[0]!.appliedOn).sort()).toEqual(["node1", "node2", "node3"]);

    // node3 gets a different version: the row differs until node3 converges.
    view.files.node3 = "a.txt\t6\tbbbbbbbbbbbb\t0644\n";
    admins[2]!.emit({
      type: "apply",
      op: "put",
      path: "a.txt",
      origin: "node3",
      size: 6,
      index: 4,
      applyMs: 1,
    });
    await waitFor("a.txt differs", () => filesModel(store.getState()).rows[0]?.state === "differs", 5000, 10);
  });

  test("a member's transfer progress over SUBSCRIBE becomes a progress row", async () => {
    const { admins } = await fakeCluster();
    const store = startSource(admins[0]!.address);
    await waitFor("a subscription per member", () => admins.every((a) => a.subscriberCount === 1), 5000, 10);
    const progress = { type: "transfer", id: "fetch-x-1", direction: "fetch", path: null, files: 1 };
    admins[2]!.emit({
      ...progress,
      peers: ["node1"],
      bytesDone: 3 << 20,
      bytesTotal: null,
      chunksDone: 48,
      chunksTotal: 64,
      elapsedMs: 300,
      state: "active",
    });
    await waitFor(
      "the transfer row",
      () => transfersModel(store.getState(), Date.now()).length === 1,
      5000,
      10,
    );
    expect(transfersModel(store.getState(), Date.now())[0]).toMatchObject({
      node: "node3",
      from: "node1",
      to: "node3",
      percent: "75%",
      bytes: "3.0 MiB",
      rate: "10 MiB/s",
      state: "active",
    });
  });

  test("when the attached member dies, asks another member it has seen and follows the new leader", async () => {
    const { view, admins } = await fakeCluster();
    const store = startSource(admins[0]!.address);
    await waitFor("three members", () => store.getState().members.length === 3, 5000, 10);
    await admins[0]!.close();
    view.down.add("node1");
    view.leader = "node2";
    await waitFor(
      "via node2 with node2 leading",
      () => {
        const s = store.getState();
        return s.self !== "node1" && s.members.find((m) => m.id === "node2")?.status?.role === "leader";
      },
      5000,
      10,
    );
    const s = store.getState();
    expect(s.members.find((m) => m.id === "node1")!.status).toBeNull();
    expect(s.files.node1?.entries ?? null).toBeNull();
    expect(s.logs.map((l) => l.msg)).toContain("leader is node2 (term 2)");
  });

  test("a node without CLUSTER_JSON still shows its own status; no member at all is an error", async () => {
    const { admins } = await fakeCluster({ clusterJson: false });
    const store = startSource(admins[1]!.address);
    await waitFor("fallback status", () => store.getState().members.length === 1, 5000, 10);
    expect(store.getState().members[0]!.status!.node).toBe("node2");
    expect(admins[1]!.commands).toContain("STATUS_JSON");

    const lonely = startSource("127.0.0.1:1");
    await waitFor("an error", () => lonely.getState().clusterError !== null, 5000, 10);
    expect(lonely.getState().clusterError).toContain("no member answers");
  });
});
