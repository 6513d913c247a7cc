import { createReadStream, createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { FileApiClient } from "../../fileapi/client.ts";
import { FileApiError } from "../../fileapi/errors.ts";
import type { FileInfo } from "../../fileapi/wire.ts";

interface FileFlags {
  addr: string;
  stale?: boolean;
}

/** The file API of node1 under the default port schema (raft 8001 − 1000). */
export const DEFAULT_FILE_API_ADDRESS = "127.0.0.1:7001";

/** `pickbox file put|get|cat|ls|rm|stat|mkdir|mv`: programs' access to the cluster through the file API port. */
export function registerFileCommands(program: Command): void {
  const file = program
    .command("file")
    .description(
      "read and write files through a node's file API port (client port, default raft port - 1000).\n" +
        "Writes commit through Raft before the command returns; reads are linearizable unless --stale.",
    );
  const withAddr = (c: Command) =>
    c.option("-a, --addr <host:port>", "file API address of any node", DEFAULT_FILE_API_ADDRESS);

  withAddr(
    file
      .command("put <local> <remote>")
      .description('store a local file ("-" reads stdin) as <remote>; streams, any size'),
  ).action((local: string, remote: string, flags: FileFlags) =>
    run(flags, async (cl) => {
      const source = local === "-" ? process.stdin : createReadStream(local, { highWaterMark: 1 << 20 });
      const r = await cl.putFile(remote, source as AsyncIterable<Uint8Array>);
      process.stdout.write(`${remote}: ${r.size} bytes, sha256 ${r.hash}, version ${r.version}\n`);
    }),
  );

  withAddr(
    file
      .command("get <remote> [local]")
      .description('copy <remote> to a local file (stdout when omitted or "-")')
      .option("--stale", "read this node's copy without the linearizable barrier"),
  ).action((remote: string, local: string | undefined, flags: FileFlags) =>
    run(flags, async (cl) => {
      const out = !local || local === "-" ? process.stdout : createWriteStream(local);
      await copy(cl.getFile(remote, { stale: flags.stale === true }), out);
    }),
  );

  withAddr(
    file
      .command("cat <remote>")
      .description("print a file")
      .option("--stale", "read this node's copy without the linearizable barrier"),
  ).action((remote: string, flags: FileFlags) =>
    run(flags, (cl) => copy(cl.getFile(remote, { stale: flags.stale === true }), process.stdout)),
  );

  withAddr(
    file
      .command("ls [dir]")
      .description("list a directory (the folder's top level by default)")
      .option("-r, --recursive", "everything below, not only direct children")
      .option("--long", "kind, size, mode, mtime, version and hash too (-l is the global --log-level)")
      .option("--stale", "list this node's state without the linearizable barrier"),
  ).action((dir: string | undefined, flags: FileFlags & { recursive?: boolean; long?: boolean }) =>
    run(flags, async (cl) => {
      const r = await cl.list(dir ?? "", {
        recursive: flags.recursive === true,
        stale: flags.stale === true,
      });
      for (const e of r.entries)
        process.stdout.write(`${flags.long ? longLine(e) : e.path + (e.kind === "dir" ? "/" : "")}\n`);
      if (r.truncated) process.stderr.write("(listing cut off at the server's limit)\n");
    }),
  );

  withAddr(file.command("rm <remote>").description("delete a file or an empty directory")).action(
    (remote: string, flags: FileFlags) => run(flags, (cl) => cl.delete(remote)),
  );

  withAddr(
    file
      .command("stat <remote>")
      .description("show a file's metadata")
      .option("--stale", "this node's state without the linearizable barrier"),
  ).action((remote: string, flags: FileFlags) =>
    run(flags, async (cl) => {
      const i = await cl.stat(remote, { stale: flags.stale === true });
      process.stdout.write(
        `path: ${i.path}\nkind: ${i.kind}\nsize: ${i.size}\nmode: ${i.mode.toString(8)}\n` +
          `mtime: ${new Date(i.mtimeMs).toISOString()}\nversion: ${i.version}\nsha256: ${i.hash || "-"}\n`,
      );
    }),
  );

  withAddr(file.command("mkdir <remote>").description("create a directory (and its parents)")).action(
    (remote: string, flags: FileFlags) => run(flags, (cl) => cl.mkdir(remote)),
  );

  withAddr(file.command("mv <from> <to>").description("rename a file (one atomic change)")).action(
    (from: string, to: string, flags: FileFlags) =>
      run(flags, async (cl) => void (await cl.rename(from, to))),
  );
}

async function run(flags: FileFlags, fn: (cl: FileApiClient) => Promise<void>): Promise<void> {
  const cl = await FileApiClient.connect(flags.addr);
  try {
    await fn(cl);
  } catch (e) {
    if (e instanceof FileApiError) throw new Error(`${e.code}: ${e.message}`);
    throw e;
  } finally {
    await cl.quit().catch(() => {});
    cl.destroy();
  }
}

/** Streams pieces to a writable, honouring its back-pressure (bounded memory for any file size). */
async function copy(src: AsyncIterable<Uint8Array>, out: Writable): Promise<void> {
  for await (const piece of src) {
    if (!out.write(piece)) await new Promise<void>((resolve) => out.once("drain", resolve));
  }
  if (out !== process.stdout)
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

function longLine(e: FileInfo): string {
  const mtime = e.kind === "file" ? new Date(e.mtimeMs).toISOString() : "-";
  return [
    e.kind === "dir" ? "d" : "-",
    e.mode.toString(8).padStart(4, "0"),
    String(e.size).padStart(12),
    mtime,
    `v${e.version}`,
    e.hash ? e.hash.slice(0, 12) : "-",
    e.path,
  ].join("  ");
}
