// How a node process runs: the command that starts `pickbox` again, and the JavaScriptCore settings a
// long-running node uses. Imported by the CLI entry before anything heavy loads, so it imports nothing.
//
// JSC's top tier (FTL) keeps compiling and recompiling the node's many warm functions: with it, the
// JIT thread alone took ~11 % of the cluster's CPU during the file API benchmark even after a 5 s warm-up,
// and 32 writers committed 1,150-1,170 files/s; without it (DFG stays) 1,330-1,360, with ~18 % less CPU
// per file. Only the JS FastCDC loop is slower without FTL (64 MiB in ~70 ms instead of ~47).
// docs/benchmarks.md ("JIT tiers") has the runs.

/** Environment a node process runs with (a variable the user set already wins). */
export const NODE_JIT_ENV: Readonly<Record<string, string>> = Object.freeze({ BUN_JSC_useFTLJIT: "0" });

/** How to run `pickbox` again: the compiled binary itself, or bun with the entry script in development. */
export function selfCommand(): string[] {
  return Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main];
}

/** The environment variables of NODE_JIT_ENV this process lacks (none: it runs with them already). */
export function missingJitEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(NODE_JIT_ENV)) if (env[k] === undefined) out[k] = v;
  return out;
}

/** True when the CLI arguments (after the program) start a node: `[global options] node start|multi`. */
export function startsNode(args: string[]): boolean {
  const at = args.indexOf("node");
  return at >= 0 && (args[at + 1] === "start" || args[at + 1] === "multi");
}

/**
 * Becomes this same process (same PID, arguments and descriptors) again with NODE_JIT_ENV set, through
 * execve: JSC reads its options only at startup. Returns only when nothing needed doing or execve is not
 * available or failed (the node then runs with JSC's defaults, just slower).
 */
export function reexecWithNodeJit(args: string[] = process.argv.slice(2)): void {
  const missing = missingJitEnv();
  if (Object.keys(missing).length === 0) return;
  const execve = (process as { execve?: (file: string, argv: string[], env: NodeJS.ProcessEnv) => void })
    .execve;
  if (typeof execve !== "function") return;
  // From source, bun's own flags (--cpu-prof, say) come along; BUN_OPTIONS brings them itself.
  const cmd = selfCommand();
  if (cmd.length > 1 && !process.env.BUN_OPTIONS) cmd.splice(1, 0, ...process.execArgv);
  try {
    execve.call(process, cmd[0]!, [...cmd, ...args], { ...process.env, ...missing });
  } catch {
    // Keep running as we are.
  }
}
