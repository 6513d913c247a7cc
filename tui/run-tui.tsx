import { render } from "ink";
import { ThemeProvider, themeFromEnv } from "./components/theme.tsx";
import { TuiApp } from "./components/tui-app.tsx";
import { StoreProvider } from "./components/tui-context.tsx";
import { headlessSink } from "./headless.ts";
import type { TuiDataSource } from "./source/data-source.ts";
import { inProcessSource, type TuiNode } from "./source/in-process-source.ts";
import { TuiStore } from "./store/tui-store.ts";

/** Ink needs raw mode on stdin and a terminal on stdout; anything else gets the headless fallback. */
export function canRunTui(
  stdin: { isTTY?: boolean; setRawMode?: unknown } = process.stdin,
  stdout: { isTTY?: boolean } = process.stdout,
): boolean {
  return Boolean(stdin.isTTY && typeof stdin.setRawMode === "function" && stdout.isTTY);
}

export interface RunTuiOptions {
  self?: string | null;
  /** Where headless lines go (default stdout). */
  write?: (text: string) => void;
}

const ALT_SCREEN_ON = "\x1b[?1049h\x1b[H";
const ALT_SCREEN_OFF = "\x1b[?1049l";

/**
 * Runs the UI on `source` until the person quits (q / ctrl-c). Without a terminal it prints plain lines
 * until SIGINT/SIGTERM instead. The source is stopped before this resolves.
 */
export async function runTui(source: TuiDataSource, o: RunTuiOptions = {}): Promise<void> {
  if (!canRunTui()) return runHeadless(source, o.write ?? ((t) => void process.stdout.write(t)));
  const store = new TuiStore({ mode: source.mode, via: source.via, self: o.self ?? null });
  source.start(store);
  // The alternate screen keeps the person's scrollback intact and is restored however we leave.
  const restore = () => process.stdout.write(ALT_SCREEN_OFF);
  process.stdout.write(ALT_SCREEN_ON);
  process.once("exit", restore);
  try {
    const app = render(
      <ThemeProvider theme={themeFromEnv()}>
        <StoreProvider store={store}>
          <TuiApp />
        </StoreProvider>
      </ThemeProvider>,
      { exitOnCtrlC: false, patchConsole: true },
    );
    await app.waitUntilExit();
  } finally {
    store.close();
    await source.stop();
    process.off("exit", restore);
    restore();
  }
}

async function runHeadless(source: TuiDataSource, write: (text: string) => void): Promise<void> {
  write(`no terminal (stdin/stdout is not a TTY): printing events as lines; ctrl-c to stop\n`);
  source.start(headlessSink(write));
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
  await source.stop();
}

/**
 * The TUI for the node this process runs (`pickbox node multi` on a terminal). Resolves when the person
 * quits; the caller then stops the node. The node should log only to its file meanwhile.
 */
export function runNodeTui(node: TuiNode): Promise<void> {
  return runTui(inProcessSource(node), { self: node.options.nodeId });
}
