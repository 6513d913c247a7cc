#!/usr/bin/env bun
import "./terminal-env.ts"; // must stay first: see the file
import "./node-jit-entry.ts"; // then this: a node process re-executes itself here
import { buildProgram } from "./program.ts";

const program = buildProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
