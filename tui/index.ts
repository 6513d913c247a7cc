// Public surface of the terminal UI.
export { attachSource } from "./data/attach-source.ts";
export type { TuiDataSource, TuiSink } from "./data/data-source.ts";
export { inProcessSource } from "./data/in-process-source.ts";
export { canRunTui, runNodeTui, runTui } from "./run-tui.tsx";
