// Public surface of the terminal UI.

export { canRunTui, runNodeTui, runTui } from "./run-tui.tsx";
export { attachSource } from "./source/attach-source.ts";
export type { TuiDataSource, TuiSink } from "./source/data-source.ts";
export { inProcessSource } from "./source/in-process-source.ts";
