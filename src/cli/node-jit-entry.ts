// Imported by the CLI entry right after terminal-env.ts, before the program loads: a command that runs a
// node becomes the same process again with the node's JIT settings (see node-runtime.ts), so the modules
// of the program are evaluated once, in the process that keeps running.
import { reexecWithNodeJit, startsNode } from "./node-runtime.ts";

if (startsNode(process.argv.slice(2))) reexecWithNodeJit();
