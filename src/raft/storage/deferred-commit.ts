// A sqlite transaction whose commit does not wait for fsync. The node's database runs WAL with
// synchronous=FULL for the raft log; the FSM's own writes (index rows, small chunks from committed
// entries) need not pay an fsync of their own: the raft log's next commit, or the FSM's checkpoint,
// syncs the WAL past them. A power cut can roll such a commit back (the log re-applies it), never tear it.
import type { Database } from "bun:sqlite";

export function deferredCommit<T>(db: Database, fn: () => T): T {
  if (db.inTransaction) return db.transaction(fn)();
  const row = db.query("PRAGMA synchronous").get() as { synchronous: number } | null;
  const previous = row?.synchronous ?? 2;
  if (previous <= 1) return db.transaction(fn)();
  db.run("PRAGMA synchronous = NORMAL");
  try {
    return db.transaction(fn)();
  } finally {
    db.run(`PRAGMA synchronous = ${previous}`);
  }
}
