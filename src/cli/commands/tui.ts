import type { Command } from "commander";
import { runTui } from "../../../tui/run-tui.tsx";
import { attachSource } from "../../../tui/source/attach-source.ts";

/** `pickbox tui --addr host:port`: the terminal UI attached to a running cluster through one member's admin port. */
export function registerTuiCommand(program: Command): void {
  program
    .command("tui")
    .description("terminal UI for a running cluster: leader, peers, live replication, per-node file hashes")
    .option("-a, --addr <host:port>", "admin address of any member", "127.0.0.1:9001")
    .option("--secret <secret>", "cluster secret, if one is configured")
    .option("--poll <ms>", "cluster status refresh interval in ms", (v) => Number.parseInt(v, 10), 1000)
    .addHelpText(
      "after",
      `
Keys: tab/arrows move between panes, / filter, ? help, q quit. NO_COLOR=1 disables colour.
Without a terminal (piped output) it prints events as plain lines instead.

Example:
  pickbox tui --addr 127.0.0.1:9001`,
    )
    .action(async (flags: { addr: string; secret?: string; poll: number }) => {
      const source = attachSource({
        address: flags.addr,
        secret: flags.secret ?? process.env.PICKBOX_SECRET,
        pollMs: Number.isFinite(flags.poll) && flags.poll > 0 ? flags.poll : 1000,
      });
      await runTui(source);
      process.exit(0);
    });
}
