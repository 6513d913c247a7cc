// UI state in React context, fed by a store that knows nothing of Ink (the gemini-cli shape).
import { createContext, type ReactNode, useContext, useEffect, useState, useSyncExternalStore } from "react";
import type { TuiState } from "../model/types.ts";
import type { TuiStore } from "../store/tui-store.ts";

const StoreContext = createContext<TuiStore | null>(null);

export function StoreProvider({ store, children }: { store: TuiStore; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

function useStore(): TuiStore {
  const s = useContext(StoreContext);
  if (!s) throw new Error("TUI components need a StoreProvider");
  return s;
}

export function useTuiState(): TuiState {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, store.getState, store.getState);
}

/** The store's clock, re-read every `everyMs` so ages and uptime move between updates. */
export function useNow(everyMs = 1000): number {
  const store = useStore();
  const [now, setNow] = useState(() => store.clock());
  useEffect(() => {
    const t = setInterval(() => setNow(store.clock()), everyMs);
    return () => clearInterval(t);
  }, [store, everyMs]);
  return now;
}
