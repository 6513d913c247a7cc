// Imported first by the CLI entry, before anything loads Ink. Ink decides at import time whether it runs
// in CI (from the CI variable) and then prints only a final frame instead of the live UI. On a real
// terminal the live UI is what the person asked for, whatever CI says, so the hint is dropped there.
if (process.stdout.isTTY && process.env.CI !== undefined) delete process.env.CI;
