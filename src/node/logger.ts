import pino from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON logs, one file per node. pino's worker-thread transports break under Bun and in
 * `bun build --compile`, so both destinations are synchronous streams in this thread.
 */
export function createLogger(o: { file: string; level: string; nodeId: string; stderr: boolean }): Logger {
  const level = ["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(o.level)
    ? o.level
    : "info";
  const fileDest = pino.destination({ dest: o.file, sync: true, mkdir: true });
  const streams: pino.StreamEntry[] = [{ stream: fileDest, level: level as pino.Level }];
  if (o.stderr) streams.push({ stream: pino.destination({ fd: 2, sync: true }), level: level as pino.Level });
  return pino(
    { level, base: { node: o.nodeId }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}
