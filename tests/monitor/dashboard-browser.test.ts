// The dashboard as a person sees it: Debian's Chromium, headless, driven by playwright-core, against a
// 3-node cluster (in-process PickboxNodes with monitoring, real folders and sockets). Screenshots go to
// tests/artifacts/ (gitignored).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { admin } from "../integration/helpers/cluster.ts";
import { MonitoredCluster } from "./monitored-cluster.ts";
import { optionalExecutable, optionalModule } from "./optional-deps.ts";

/** The slice of playwright-core's API used here (typed locally: the package is a devDependency). */
interface Dialog {
  message(): string;
  dismiss(): Promise<void>;
}
interface Page {
  goto(url: string, o?: { waitUntil?: string }): Promise<unknown>;
  on(event: "dialog", fn: (d: Dialog) => void): void;
  on(event: "pageerror", fn: (e: Error) => void): void;
  on(event: "console", fn: (m: { type(): string; text(): string }) => void): void;
  waitForFunction<A>(
    fn: (arg: A) => unknown,
    arg: A,
    o?: { timeout?: number; polling?: number },
  ): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R, arg: A): Promise<R>;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
}
interface Browser {
  newPage(o?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(o: { executablePath: string; args: string[]; timeout?: number }): Promise<Browser> };
}

/** What the functions run inside the page touch (the project's TypeScript has no DOM lib). */
interface El {
  textContent: string | null;
  hidden: boolean;
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): Iterable<El> & ArrayLike<El>;
}
declare const document: {
  body: El;
  getElementById(id: string): El | null;
  querySelectorAll(selector: string): Iterable<El> & ArrayLike<El>;
};

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.resolve(import.meta.dir, "../artifacts");
const pw = await optionalModule<Playwright>("playwright-core", "npm install -D playwright-core");
const chromiumPath = await optionalExecutable(CHROMIUM, "apt-get install -y chromium");

const HOSTILE_FILE = "<img src=x onerror=alert(1)>.txt";
const HOSTILE_ID = "<svg/onload=alert(2)>";
const HOSTILE_ADDR = "<script>alert(3)</script>:1";

describe.skipIf(!pw || !chromiumPath)("dashboard in headless Chromium", () => {
  let c: MonitoredCluster;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    c = await MonitoredCluster.start(3);
    browser = await pw!.chromium.launch({
      executablePath: chromiumPath!,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 30_000,
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await c?.destroy();
  });

  test("shows all three nodes live, and a file written on node3 appears in the events", async () => {
    await page.goto(c.dashboardUrl("/"), { waitUntil: "load" });
    await page.waitForFunction(
      (ids: string[]) => {
        const rows = [...document.querySelectorAll("#nodes tbody tr")];
        const shown = rows.map((r) => r.getAttribute("data-node"));
        return ids.every((id) => shown.includes(id));
      },
      ["node1", "node2", "node3"],
      { timeout: 15_000 },
    );
    const rows = await page.evaluate(
      () =>
        [...document.querySelectorAll("#nodes tbody tr")].map((r) =>
          [...r.querySelectorAll("td")].map((td) => td.textContent),
        ),
      null,
    );
    expect(rows.map((r) => r[0]).sort()).toEqual(["node1", "node2", "node3"]);
    expect(rows.map((r) => r[1]).sort()).toEqual(["Follower", "Follower", "Leader"]);
    const cards = await page.evaluate(
      () => ({
        state: document.getElementById("state")?.textContent,
        peers: document.getElementById("peers")?.textContent,
        status: document.getElementById("status-text")?.textContent,
        error: document.getElementById("error")?.hidden,
      }),
      null,
    );
    expect(cards).toEqual({
      state: "Leader",
      peers: "2",
      status: "Cluster is healthy and operational (3 of 3 nodes up)",
      error: true,
    });

    writeFileSync(path.join(c.handle(2).folder, "hello-from-node3.txt"), "hello\n");
    await page.waitForFunction(
      (name: string) =>
        [...document.querySelectorAll("#events tbody td.path")].some((td) => td.textContent === name),
      "hello-from-node3.txt",
      { timeout: 20_000 },
    );
    // Every node's file count reaches 1 in the table (the file reached all three folders).
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#nodes tbody tr")].every(
          (r) => (r.querySelectorAll("td")[8]?.textContent ?? "") === "1",
        ),
      null,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-3-nodes.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  test("hostile file names show as text and never run; hostile member ids and addresses are refused", async () => {
    writeFileSync(path.join(c.handle(1).folder, HOSTILE_FILE), "x\n");
    // Member ids and addresses are validated where they enter the cluster, so markup never gets that far.
    expect(await admin(c.handle(0).adminPort, `ADD_LEARNER ${HOSTILE_ID} 127.0.0.1:1`)).toMatch(
      /^ERROR: invalid node id/,
    );
    expect(await admin(c.handle(0).adminPort, `ADD_LEARNER evil ${HOSTILE_ADDR}`)).toMatch(
      /^ERROR: invalid address/,
    );

    await page.waitForFunction(
      (o: { file: string }) => {
        const paths = [...document.querySelectorAll("#events tbody td.path")].map((td) => td.textContent);
        return paths.includes(o.file);
      },
      { file: HOSTILE_FILE },
      { timeout: 20_000 },
    );
    const injected = await page.evaluate(
      () => ({
        // Markup in data would have become elements (even where CSP stops their scripts).
        elements: document.querySelectorAll("main img, main svg, main script, #node-list img, #node-list svg")
          .length,
        listText: [...document.querySelectorAll("#node-list li")].map((li) => li.textContent),
      }),
      null,
    );
    expect(injected.elements).toBe(0);
    expect(injected.listText.some((t) => t?.includes("svg") || t?.includes("script"))).toBe(false);
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-hostile-data.png"), fullPage: true });
    // Give any handler that slipped through a few more polls to fire.
    const polls = await page.evaluate(() => Number(document.body.getAttribute("data-polls")), null);
    await page.waitForFunction(
      (n: number) => Number(document.body.getAttribute("data-polls")) >= n + 2,
      polls,
      { timeout: 10_000 },
    );
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
