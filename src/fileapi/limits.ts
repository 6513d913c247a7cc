// Server-side limits of the file API. Every one answers with a clear error instead of growing without bound.

export interface FileApiLimits {
  /** Longest request line in bytes (ETOOBIG beyond; the connection is closed, it cannot be resynchronised). */
  maxLineBytes: number;
  /** Largest WRITE payload (ETOOBIG; the payload is skipped and the connection stays usable). */
  maxWriteBytes: number;
  /** Largest READ length (ETOOBIG). */
  maxReadBytes: number;
  /** Largest file a handle may grow to (ETOOBIG). */
  maxFileBytes: number;
  /** Open handles per connection (ELIMIT). */
  maxHandlesPerConnection: number;
  /** Connections at once (ELIMIT, then closed). */
  maxConnections: number;
  /** Rows in one LIST reply; more are cut off and the reply says so. */
  maxListEntries: number;
  /** A connection with no request in progress and nothing received for this long is closed (ETIMEDOUT). */
  idleTimeoutMs: number;
  /** Bytes of a handle kept in memory before it is spooled to a temp file. */
  spoolMemoryBytes: number;
  /** How long a linearizable read waits for the ReadIndex barrier before EUNAVAILABLE. */
  barrierTimeoutMs: number;
}

export const DEFAULT_LIMITS: FileApiLimits = Object.freeze({
  maxLineBytes: 16 * 1024,
  maxWriteBytes: 16 * 1024 * 1024,
  maxReadBytes: 16 * 1024 * 1024,
  maxFileBytes: 64 * 1024 * 1024 * 1024,
  maxHandlesPerConnection: 64,
  maxConnections: 1024,
  maxListEntries: 100_000,
  idleTimeoutMs: 5 * 60_000,
  spoolMemoryBytes: 1024 * 1024,
  barrierTimeoutMs: 5000,
});
