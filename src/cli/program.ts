import { Command } from "commander";
import { registerClusterCommands } from "./commands/cluster.ts";
import { registerFileCommands } from "./commands/file.ts";
import { registerNodeCommands } from "./commands/node.ts";
import { registerScriptCommands } from "./commands/script.ts";
import { registerTuiCommand } from "./commands/tui.ts";
import { versionLine } from "./version.ts";

/** The `pickbox` command tree. Subcommands register themselves here; nothing runs at import time. */
export function buildProgram(): Command {
  const program = new Command("pickbox")
    .description(
      "A distributed file store: every node owns a plain folder, and a change made in any node's folder\n" +
        "is agreed through Raft consensus and materialised identically in every other node's folder.",
    )
    .version(versionLine(), "-v, --version", "print the version")
    .option("-l, --log-level <level>", "log level: debug, info, warn, error", "info")
    .option("-d, --data-dir <dir>", "base data directory; each node uses <data-dir>/<node-id>", "data")
    .showHelpAfterError()
    .enablePositionalOptions(false);
  registerNodeCommands(program);
  registerClusterCommands(program);
  registerScriptCommands(program);
  registerTuiCommand(program);
  registerFileCommands(program);
  return program;
}
