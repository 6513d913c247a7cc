import net from "node:net";

/**
 * Ports laid out as the scripts' schema derives them from one raft base R (so the default -a/-m/--client-port
 * derivations and the original's "admin = raft + 1000" both hold): raft R.., admin R+1000.., client R-1000..,
 * monitor R-2000.., dashboard R+2000. R is drawn from 22000-29999, below Linux's ephemeral range
 * (32768+), so ports the kernel hands to other tests' outgoing connections cannot collide; every port is
 * checked free by binding it.
 */
export interface PortPlan {
  raft: number;
  admin: number;
  client: number;
  monitor: number;
  dashboard: number;
  count: number;
}

/** Ports already handed out in this process (two plans never share a port, even if one is idle right now). */
const taken = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

export async function schemaPorts(count: number): Promise<PortPlan> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const raft = 22_000 + Math.floor(Math.random() * 8_000);
    const ports = [raft + 2000];
    for (const off of [-2000, -1000, 0, 1000]) for (let i = 0; i < count; i++) ports.push(raft + off + i);
    if (ports.some((p) => taken.has(p))) continue;
    const free = await Promise.all(ports.map(bindable));
    if (free.every(Boolean)) {
      for (const p of ports) taken.add(p);
      return {
        raft,
        admin: raft + 1000,
        client: raft - 1000,
        monitor: raft - 2000,
        dashboard: raft + 2000,
        count,
      };
    }
  }
  throw new Error(`no free port layout for ${count} nodes found`);
}

/** cluster_manager.sh / test script options for a plan. */
export function portArgs(p: PortPlan): string[] {
  return [
    "-p",
    String(p.raft),
    "-a",
    String(p.admin),
    "-m",
    String(p.monitor),
    "--client-port",
    String(p.client),
    "-d",
    String(p.dashboard),
  ];
}
