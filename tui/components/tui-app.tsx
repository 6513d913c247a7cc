import { Box, useApp, useInput, useStdout } from "ink";
import { useEffect, useRef, useState } from "react";
import { feedModel } from "../model/feed-model.ts";
import { filesModel } from "../model/files-model.ts";
import { headerModel } from "../model/header-model.ts";
import { layoutPanes } from "../model/layout-model.ts";
import { logModel } from "../model/log-model.ts";
import { peersModel } from "../model/peers-model.ts";
import { transfersModel } from "../model/transfers-model.ts";
import { initialUi, reduceKey, type UiState } from "../model/ui-state.ts";
import { FeedPane } from "./feed-pane.tsx";
import { FilesPane } from "./files-pane.tsx";
import { FooterBar } from "./footer-bar.tsx";
import { HeaderBar } from "./header-bar.tsx";
import { HelpPane } from "./help-pane.tsx";
import { LogPane } from "./log-pane.tsx";
import { PeersPane } from "./peers-pane.tsx";
import { useNow, useTuiState } from "./tui-context.tsx";

export interface TuiAppProps {
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  columns?: number;
  rows?: number;
  onQuit?: () => void;
  initial?: Partial<UiState>;
  tickMs?: number;
}

/** Terminal size from Ink's stdout, updated on resize. */
function useTerminalSize(fixed: { columns?: number; rows?: number }): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({
    columns: fixed.columns ?? (stdout.columns || 80),
    rows: fixed.rows ?? (stdout.rows || 24),
  });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  });
  return size;
}

export function TuiApp({ columns, rows, onQuit, initial, tickMs }: TuiAppProps) {
  const state = useTuiState();
  const now = Math.max(useNow(), state.membersAt);
  const size = useTerminalSize({ columns, rows });
  const [ui, setUi] = useState<UiState>(() => ({ ...initialUi(), ...initial }));
  // Keys can arrive faster than renders: reduce over the latest state, not the rendered one.
  const uiRef = useRef(ui);
  const { exit } = useApp();
  useInput((input, key) => {
    const r = reduceKey(uiRef.current, input, key);
    if (r.quit) {
      onQuit?.();
      exit();
      return;
    }
    if (r.ui !== uiRef.current) {
      uiRef.current = r.ui;
      setUi(r.ui);
    }
  });
  const width = Math.max(40, size.columns);
  const peers = peersModel(state, { tickMs });
  const files = filesModel(state, ui.filter);
  const feed = feedModel(state, ui.filter);
  const transfers = transfersModel(state, now, ui.filter);
  const logs = logModel(state, ui.filter);
  const layout = layoutPanes(width, size.rows, ui.focus, {
    peers: peers.length + 2,
    files: Math.max(1, files.rows.length) + 2,
    feed: Math.max(1, feed.length + transfers.length) + 1,
    log: Math.max(1, logs.length) + 1,
  });
  const paneHeight = layout.panes.peers + layout.panes.files + layout.panes.feed + layout.panes.log;
  const p = layout.panes;
  return (
    <Box flexDirection="column" width={width}>
      <HeaderBar model={headerModel(state, now)} width={width} />
      {ui.help ? (
        <HelpPane width={width} height={paneHeight} />
      ) : (
        <>
          {p.peers > 0 ? (
            <PeersPane
              rows={peers}
              width={width}
              height={p.peers}
              focused={ui.focus === "peers"}
              scroll={ui.scroll.peers}
            />
          ) : null}
          {p.files > 0 ? (
            <FilesPane
              model={files}
              width={width}
              height={p.files}
              focused={ui.focus === "files"}
              scroll={ui.scroll.files}
              filter={ui.filter}
            />
          ) : null}
          {p.feed > 0 ? (
            <FeedPane
              rows={feed}
              transfers={transfers}
              width={width}
              height={p.feed}
              focused={ui.focus === "feed"}
              scroll={ui.scroll.feed}
            />
          ) : null}
          {p.log > 0 ? (
            <LogPane
              rows={logs}
              width={width}
              height={p.log}
              focused={ui.focus === "log"}
              scroll={ui.scroll.log}
            />
          ) : null}
        </>
      )}
      <FooterBar ui={ui} width={width} />
    </Box>
  );
}
