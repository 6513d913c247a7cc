// Error codes of the file API. Every failure a client can see is one of these, sent as
// `ERR <CODE> <message>`; the client library turns it back into a FileApiError with the same code.
import { NotLeaderError } from "../raft/driver/raft-node.ts";
import { PathError } from "../store/paths.ts";

export const ERROR_CODES = [
  "ENOENT", // no such file or directory
  "EBADF", // unknown handle, or a handle not open for this operation
  "EINVAL", // malformed request, bad number, unknown verb or mode
  "EISDIR", // a directory where a file is needed
  "ENOTDIR", // a file where a directory is needed
  "ENOTEMPTY", // DELETE of a directory that still has entries
  "EEXIST", // MKDIR over a file
  "ETOOBIG", // a request, payload, read or file larger than the server's limit
  "ELIMIT", // too many open handles on the connection, or too many connections
  "EPATH", // hostile or malformed path (absolute, "..", .pickbox, control characters, too long)
  "ECONFLICT", // the commit was based on a version another writer replaced: kept as a conflict copy
  "ENOTLEADER", // reserved: this node needs a leader and knows none (EUNAVAILABLE is what is sent today)
  "EUNAVAILABLE", // no leader / no quorum: nothing was committed; retry later
  "ETIMEDOUT", // a commit's outcome is unknown (it may still be applied), or the connection idled out
  "ESTALE", // bytes of the version a read handle pinned are gone (garbage-collected); OPEN again
  "EIO", // anything else that went wrong on the server
  // Client side only (never sent by the server):
  "ECONNRESET", // the connection closed or failed before the reply (a commit's outcome is unknown)
  "EPROTO", // the server's reply did not follow the protocol
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(s: string): s is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(s);
}

/** A failure with a protocol error code; the message is one line meant for people. */
export class FileApiError extends Error {
  override name = "FileApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For ECONFLICT: where the rejected version was kept. */
    readonly conflictPath?: string,
  ) {
    super(message);
  }
}

/** Maps any error from the node (raft, store, paths) to a protocol error. */
export function toFileApiError(err: unknown): FileApiError {
  if (err instanceof FileApiError) return err;
  if (err instanceof PathError) return new FileApiError("EPATH", err.message);
  if (err instanceof NotLeaderError) return new FileApiError("EUNAVAILABLE", `${err.message}; retry`);
  const msg = err instanceof Error ? err.message : String(err);
  if (
    /read index timed out|no leader|not the leader|NOT_LEADER|raft node stopped|proposal lost|superseded/i.test(
      msg,
    )
  )
    return new FileApiError("EUNAVAILABLE", `cluster unavailable: ${msg}`);
  if (/not acknowledged before the deadline|timed out|timeout/i.test(msg))
    return new FileApiError("ETIMEDOUT", `outcome unknown (the change may still be applied): ${msg}`);
  return new FileApiError("EIO", msg);
}
