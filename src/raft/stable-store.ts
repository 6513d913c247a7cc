import type { HardState } from "./types.ts";

/** Durable small state: term, vote, commit and a few named values (hashicorp/raft's StableStore). */
export interface StableStore {
  getHardState(): HardState | null;
  setHardState(hs: HardState): void;
  get(key: string): Uint8Array | null;
  set(key: string, value: Uint8Array): void;
}
