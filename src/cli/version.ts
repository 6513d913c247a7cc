import pkg from "../../package.json" with { type: "json" };

// Injected at build time with --define when available; "dev" otherwise (as the original did).
declare const PICKBOX_COMMIT: string | undefined;
declare const PICKBOX_BUILT: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof PICKBOX_COMMIT === "string" ? PICKBOX_COMMIT : "unknown";
export const BUILT: string = typeof PICKBOX_BUILT === "string" ? PICKBOX_BUILT : "unknown";

export function versionLine(): string {
  return `pickbox version ${VERSION} (commit: ${COMMIT}, built: ${BUILT})`;
}
