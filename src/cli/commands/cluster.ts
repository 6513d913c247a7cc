import type { Command } from "commander";
import { adminAddressForRaft, adminRequest, parseHostPort } from "../../admin/admin-client.ts";
import { type ClusterView, fetchClusterView } from "../cluster-status.ts";
import { formatClusterView } from "../cluster-status-format.ts";
import { intOption } from "../parse.ts";

interface AdminFlags {
  addr: string;
  secret?: string;
  timeout: number;
}

const DEFAULT_ADMIN = "127.0.0.1:9001";

/** `pickbox cluster status|join|remove|transfer`: operate a running cluster through any member's admin port. */
export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("inspect and change the membership of a running cluster");

  withAdmin(
    cluster
      .command("status")
      .description("show every member: role, voter/learner, indices, lag, last contact and health")
      .option("--json", "print the status as one JSON object"),
  ).action(async (flags: AdminFlags & { json?: boolean }) => {
    let view: ClusterView;
    try {
      view = await fetchClusterView(flags.addr, { timeoutMs: flags.timeout, secret: secret(flags) });
    } catch (err) {
      process.stderr.write(`❌ Cannot get cluster status from admin server at ${flags.addr}\n`);
      throw err;
    }
    process.stdout.write(flags.json ? `${JSON.stringify(view)}\n` : formatClusterView(view));
  });

  cluster
    .command("join")
    .description("add a node (already running, not yet a member) to the cluster")
    .requiredOption("-L, --leader <host:port>", "raft address of any member (its admin port is port+1000)")
    .requiredOption("-n, --node-id <id>", "id of the node to add")
    .requiredOption("-a, --node-addr <host:port>", "raft address of the node to add")
    .option("--admin <host:port>", "admin address to send the request to (default: --leader's port + 1000)")
    .option("--learner", "add as a non-voting learner")
    .option("--secret <secret>", "cluster secret (default: $PICKBOX_SECRET)")
    .option("--timeout <ms>", "request timeout", intOption, 20_000)
    .action(
      async (flags: {
        leader: string;
        nodeId: string;
        nodeAddr: string;
        admin?: string;
        learner?: boolean;
        secret?: string;
        timeout: number;
      }) => {
        parseHostPort(flags.nodeAddr);
        const adminAddr = flags.admin ?? adminAddressForRaft(flags.leader);
        const verb = flags.learner ? "ADD_LEARNER" : "ADD_VOTER";
        process.stdout.write(
          `Attempting to join node ${flags.nodeId} (${flags.nodeAddr}) to cluster via ${adminAddr}...\n`,
        );
        await expectOk(adminAddr, `${verb} ${flags.nodeId} ${flags.nodeAddr}`, {
          timeoutMs: flags.timeout,
          secret: secret(flags),
        });
        const membership = await membershipOf(adminAddr, flags.nodeId, secret(flags));
        process.stdout.write(
          `✅ Successfully joined node ${flags.nodeId} to cluster${membership ? ` as a ${membership}` : ""}\n`,
        );
      },
    );

  withAdmin(
    cluster
      .command("remove")
      .description("remove a member from the cluster configuration (the process keeps running)")
      .argument("[node-id]", "member to remove")
      .option("-n, --node-id <id>", "member to remove (same as the argument)"),
  ).action(async (arg: string | undefined, flags: AdminFlags & { nodeId?: string }) => {
    const id = arg ?? flags.nodeId;
    if (!id) throw new Error("which member? give its id: pickbox cluster remove node3");
    await expectOk(flags.addr, `REMOVE ${id}`, { timeoutMs: flags.timeout, secret: secret(flags) });
    process.stdout.write(`✅ Removed ${id} from the cluster\n`);
  });

  withAdmin(
    cluster
      .command("transfer")
      .description("hand leadership to another voter (the most up-to-date one unless named)")
      .argument("[node-id]", "voter that should lead")
      .option("--to <id>", "voter that should lead (same as the argument)"),
  ).action(async (arg: string | undefined, flags: AdminFlags & { to?: string }) => {
    const target = arg ?? flags.to;
    const opts = { timeoutMs: flags.timeout, secret: secret(flags) };
    const view = await fetchClusterView(flags.addr, opts);
    const leader = view.members.find((m) => m.id === view.leader);
    if (!leader) throw new Error(`the cluster has no leader right now (asked ${flags.addr})`);
    if (target === leader.id) {
      process.stdout.write(`${target} already leads (term ${view.term})\n`);
      return;
    }
    const reply = await expectOk(
      leader.adminAddress ?? flags.addr,
      target ? `TRANSFER ${target}` : "TRANSFER",
      opts,
    );
    const newLeader = reply.replace(/^OK\s*/, "").trim() || target || "?";
    process.stdout.write(`✅ Leadership transferred from ${leader.id} to ${newLeader}\n`);
  });
}

function withAdmin(cmd: Command): Command {
  return cmd
    .option("-a, --addr <host:port>", "admin address of any member", DEFAULT_ADMIN)
    .option("--secret <secret>", "cluster secret (default: $PICKBOX_SECRET)")
    .option("--timeout <ms>", "request timeout", intOption, 10_000);
}

function secret(flags: { secret?: string }): string | undefined {
  return flags.secret ?? process.env.PICKBOX_SECRET ?? undefined;
}

/** Sends one admin command; anything but an `OK...` reply becomes an error carrying the server's words. */
async function expectOk(
  addr: string,
  line: string,
  opts: { timeoutMs: number; secret: string | undefined },
): Promise<string> {
  const reply = (await adminRequest(addr, line, opts)).trim();
  if (!reply.startsWith("OK")) {
    throw new Error(`${line.split(" ")[0]} via ${addr} failed: ${reply || "(no reply)"}`);
  }
  return reply;
}

/** "voter" / "learner" as the member at addr now lists the node, or null if it cannot tell. */
async function membershipOf(addr: string, id: string, secret: string | undefined): Promise<string | null> {
  try {
    const st = JSON.parse(await adminRequest(addr, "STATUS_JSON", { timeoutMs: 3_000, secret })) as {
      peers?: { id: string; voter: boolean }[];
    };
    const p = st.peers?.find((x) => x.id === id);
    return p ? (p.voter ? "voter" : "learner") : null;
  } catch {
    return null;
  }
}
