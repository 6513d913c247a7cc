// A stand-in for a node's admin port speaking just what the TUI uses: CLUSTER_JSON (or not, like an older
// node), STATUS_JSON, FILES and SUBSCRIBE. Real TCP on 127.0.0.1:0.
import net from "node:net";

export interface FakeAdminState {
  cluster: (() => string) | null;
  statusJson: () => string;
  files: () => string;
}

export class FakeAdmin {
  private readonly server = net.createServer((s) => this.onConnection(s));
  private readonly subscribers = new Set<net.Socket>();
  private readonly sockets = new Set<net.Socket>();
  readonly commands: string[] = [];
  address = "";

  constructor(
    readonly id: string,
    readonly state: FakeAdminState,
  ) {}

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.address = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this.address;
  }

  /** Sends a JSON line to every SUBSCRIBE client. */
  emit(event: Record<string, unknown>): void {
    for (const s of this.subscribers)
      s.write(`${JSON.stringify({ at: Date.now(), node: this.id, ...event })}\n`);
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => {
      this.sockets.delete(socket);
      this.subscribers.delete(socket);
    });
    socket.on("error", () => {});
    let buf = "";
    socket.on("data", (d) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      const line = buf.slice(0, nl).trim();
      this.commands.push(line);
      const word = line.split(" ")[0];
      if (word === "SUBSCRIBE") {
        this.subscribers.add(socket);
        socket.write(`${JSON.stringify({ type: "hello", node: this.id })}\n`);
        return;
      }
      let reply = "ERROR: Unknown command\n";
      if (word === "CLUSTER_JSON" && this.state.cluster) reply = `${this.state.cluster()}\n`;
      if (word === "STATUS_JSON") reply = this.state.statusJson();
      if (word === "FILES") reply = this.state.files();
      socket.end(reply);
    });
  }
}
