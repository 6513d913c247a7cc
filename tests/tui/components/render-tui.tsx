// Renders the TUI with its providers (the gemini-cli test shape), at a fixed size, for ink-testing-library.
import { render } from "ink-testing-library";
import { type Theme, ThemeProvider } from "../../../tui/components/theme.tsx";
import { TuiApp } from "../../../tui/components/tui-app.tsx";
import { StoreProvider } from "../../../tui/components/tui-context.tsx";
import { TuiStore } from "../../../tui/store/tui-store.ts";

export function renderTui(
  o: { columns?: number; rows?: number; theme?: Theme; store?: TuiStore; onQuit?: () => void } = {},
) {
  const store =
    o.store ??
    new TuiStore({ mode: "attach", via: "admin 127.0.0.1:9001", notifyDelayMs: 0, now: () => 100_000 });
  const ui = render(
    <ThemeProvider theme={o.theme ?? { color: false, unicode: true }}>
      <StoreProvider store={store}>
        <TuiApp columns={o.columns ?? 80} rows={o.rows ?? 24} onQuit={o.onQuit} />
      </StoreProvider>
    </ThemeProvider>,
  );
  return { ...ui, store };
}

/** Polls the last frame until `check` passes (Ink renders after input asynchronously). */
export async function frameWhere(
  lastFrame: () => string | undefined,
  check: (f: string) => boolean,
  what: string,
): Promise<string> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const f = lastFrame() ?? "";
    if (check(f)) return f;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`frame never showed ${what}:\n${lastFrame()}`);
}
