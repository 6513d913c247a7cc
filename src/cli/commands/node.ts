import type { Command } from "commander";
import { canRunTui, runNodeTui } from "../../../tui/run-tui.tsx";
import { derivePorts, type NodeOptions } from "../../node/node-options.ts";
import { PickboxNode } from "../../node/pickbox-node.ts";
import { intOption } from "../parse.ts";

interface NodeFlags {
  nodeId: string;
  port: number;
  bootstrap?: boolean;
  join?: string;
  adminPort?: number;
  monitorPort?: number;
  clientPort?: number;
  dashboardPort: number;
  bind: string;
  advertise?: string;
  secret?: string;
  maxVoters: number;
  folder?: string;
  snapshotThreshold?: number;
  tui: boolean;
}

/** `pickbox node start` and `pickbox node multi`: run one node in the foreground until SIGINT/SIGTERM. */
export function registerNodeCommands(program: Command): void {
  const node = program.command("node").description("run a Pickbox node");
  addNodeCommand(
    node,
    "start",
    "start a node (bootstraps a new cluster only with --bootstrap; joins with --join)",
    false,
  );
  addNodeCommand(
    node,
    "multi",
    "start a node with multi-directional replication (bootstraps a new cluster unless --join is given)",
    true,
  );
}

function addNodeCommand(
  parent: Command,
  name: string,
  description: string,
  bootstrapUnlessJoin: boolean,
): void {
  parent
    .command(name)
    .description(description)
    .requiredOption("-n, --node-id <id>", "node id; also the name of its folder under --data-dir")
    .option("-p, --port <port>", "raft port; other ports derive from it", intOption, 8001)
    .option(
      "-b, --bootstrap",
      "bootstrap a new single-voter cluster (ignored when the node already has state)",
    )
    .option("-j, --join <host:port>", "raft address of any cluster member to join through")
    .option("--admin-port <port>", "admin TCP port (default: port+1000)", intOption)
    .option("--monitor-port <port>", "monitor HTTP port (default: port-2000)", intOption)
    .option("--client-port <port>", "file API port (default: port-1000)", intOption)
    .option(
      "--dashboard-port <port>",
      "web dashboard port, one per host (first node to bind it serves)",
      intOption,
      8080,
    )
    .option("--bind <host>", "address to listen on", "127.0.0.1")
    .option("--advertise <host>", "address other nodes use to reach this one (default: --bind)")
    .option("--secret <secret>", "cluster secret: peers and mutating admin commands must present it")
    .option(
      "--max-voters <n>",
      "beyond this many voters, new nodes join as non-voting learners",
      intOption,
      5,
    )
    .option("--folder <dir>", "use this folder for the node instead of <data-dir>/<node-id>")
    .option(
      "--snapshot-threshold <n>",
      "snapshot the state and compact the log every n applied entries",
      intOption,
    )
    .option("--no-tui", "plain structured logs on stderr instead of the terminal UI")
    .addHelpText(
      "after",
      `
Ports for raft port P: admin P+1000, file API P-1000, monitor P-2000 (e.g. 8001 → 9001, 7001, 6001).

Examples:
  pickbox node multi -n node1 -p 8001
  pickbox node multi -n node2 -p 8002 --join 127.0.0.1:8001
  echo STATUS | nc 127.0.0.1 9001`,
    )
    .action(async (flags: NodeFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { dataDir: string; logLevel: string };
      // The live UI on a terminal; plain structured logs on stderr otherwise (or with --no-tui).
      const tui = flags.tui && canRunTui();
      const derived = derivePorts(flags.port);
      const options: NodeOptions = {
        nodeId: flags.nodeId,
        dataDir: globals.dataDir,
        folder: flags.folder,
        bindHost: flags.bind,
        advertiseHost: flags.advertise ?? flags.bind,
        raftPort: flags.port,
        adminPort: flags.adminPort ?? derived.adminPort,
        monitorPort: flags.monitorPort ?? derived.monitorPort,
        clientPort: flags.clientPort ?? derived.clientPort,
        dashboardPort: flags.dashboardPort,
        bootstrap: Boolean(flags.bootstrap) || (bootstrapUnlessJoin && !flags.join),
        join: flags.join ?? null,
        secret: flags.secret ?? process.env.PICKBOX_SECRET ?? null,
        maxVoters: flags.maxVoters,
        logLevel: globals.logLevel,
        logToStderr: !tui,
        snapshotThreshold: flags.snapshotThreshold,
      };
      if (!options.bootstrap && !options.join) {
        process.stderr.write(
          "warning: neither --bootstrap nor --join given: this node waits to be added by a cluster (ADD_VOTER)\n",
        );
      }
      await runNode(options, tui);
    });
}

async function runNode(options: NodeOptions, tui: boolean): Promise<void> {
  const node = new PickboxNode(options);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info({ signal }, "shutting down");
    await node.stop();
    process.exit(0);
  };
  node.onFatal = (err) => {
    node.log.fatal({ err: String(err) }, "node stopped after an unrecoverable error");
    process.stderr.write(
      `pickbox node ${options.nodeId}: stopped after an unrecoverable error: ${err.message}\n`,
    );
    void node.stop().finally(() => process.exit(1));
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  await node.start();
  if (tui) {
    // Raw mode swallows Ctrl-C as a key: the UI treats it (and q) as quit, then we stop cleanly.
    await runNodeTui(node);
    await stop("tui-quit");
    return;
  }
  process.stderr.write(
    `pickbox node ${options.nodeId}: raft ${node.raftAddress}, admin ${node.adminAddress}, folder ${node.folder}\n`,
  );
}
