import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { Alert } from "../../src/core/stream/alerts.ts";
import { connectNats } from "../../src/fleet/connection.ts";
import { alertSubject } from "../../src/fleet/names.ts";
import { FLEET_DETECTORS } from "../../src/fleet/registry.ts";
import { initFleet } from "../../src/fleet/setup.ts";
import { serveUi, type UiServer } from "../../src/fleet/ui/server.ts";
import { simulateLogs } from "../../src/ransomware/simulate.ts";
import { tempDir } from "../ransomware/helpers.ts";
import { referenceAlerts, trainSmallModel } from "./cluster.ts";
import { type NatsServer, natsServerMissing, startNats, waitFor } from "./helpers.ts";

/**
 * `threatlens ui` in Debian's headless Chromium (driven by playwright-core; no browser download): the page shows the
 * stored alerts, counts and timeline, filters, each alert's evidence, and alerts stored later appear live.
 * THREATLENS_SCREENSHOT=path keeps a screenshot (docs/figures/fleet/ui.png is made this way).
 */
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const missing =
  natsServerMissing() ??
  (existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`);
const tmp = tempDir("threatlens-ui-");
let server: NatsServer;
let nc: NatsConnection;
let ui: UiServer;
let context: BrowserContext;
let page: Page;
let first: Alert[] = [];
let later: Alert[] = [];

async function publish(alerts: Alert[]): Promise<void> {
  const js = jetstream(nc);
  for (const a of alerts)
    await js.publish(alertSubject(a.detector, a.hostname), JSON.stringify(a), { msgID: a.id });
}

const text = async (selector: string) => (await page.textContent(selector))?.trim() ?? "";

describe("threatlens ui", { skip: missing ?? false }, () => {
  before(async () => {
    server = await startNats(join(tmp.dir, "nats"));
    nc = await connectNats(server.url, { name: "ui test" });
    await initFleet(nc, FLEET_DETECTORS);
    const model = await trainSmallModel(tmp.dir);
    const logs = (await simulateLogs(join(tmp.dir, "held"), { seed: 22, logs: 3, scale: 0.3 })).logFiles;
    // Real alerts, as the scorers would store them, for three hosts; the third host's arrive while the page is open.
    first = [
      ...(await referenceAlerts(model, "web-1.example", logs)),
      ...(await referenceAlerts(model, "db-2", logs.slice(0, 2))),
    ];
    later = await referenceAlerts(model, "late-3", logs.slice(1));
    await publish(first);
    ui = await serveUi({ nats: server.url, port: 0 });
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "threatlens-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1400, height: 1100 },
    });
    page = await context.newPage();
    await page.goto(`http://127.0.0.1:${ui.port}/`);
    await page.waitForSelector("body[data-ready]");
  });

  after(async () => {
    await context?.close();
    await ui?.close();
    await nc?.close();
    await server?.stop();
    tmp.cleanup();
  });

  test("shows every stored alert with counts by host, detector and priority, and a timeline", async () => {
    assert.equal(Number(await text("#count-total")), first.length);
    assert.equal(Number(await text("#count-incidents")), new Set(first.map((a) => a.incident)).size);
    assert.equal(Number(await text("#count-hosts")), 2);
    const db = first.filter((a) => a.hostname === "db-2").length;
    assert.equal(await text('#by-host li[data-key="db-2"] .n'), String(db));
    assert.equal(await text('#by-detector li[data-key="ransomware"] .n'), String(first.length));
    for (const p of new Set(first.map((a) => a.priority)))
      assert.equal(
        await text(`#by-priority li[data-key="${p}"] .n`),
        String(first.filter((a) => a.priority === p).length),
      );
    assert.ok((await page.locator("#timeline-svg rect").count()) > 0);
    assert.equal(await page.locator("#alerts tbody tr").count(), Math.min(500, first.length));
  });

  test("filters by host, priority and text, and clicking a count filters too", async () => {
    await page.selectOption("#filter-host", "db-2");
    const db = first.filter((a) => a.hostname === "db-2");
    assert.equal(Number(await text("#count-total")), db.length);
    assert.equal(await page.locator("#alerts tbody tr").count(), db.length);
    await page.selectOption("#filter-status", "new");
    assert.equal(Number(await text("#count-total")), db.filter((a) => a.status === "new").length);
    await page.click("#filter-clear");
    assert.equal(Number(await text("#count-total")), first.length);
    const target = first[first.length - 1];
    await page.fill("#filter-text", target.incident);
    assert.equal(
      Number(await text("#count-total")),
      first.filter((a) => a.incident === target.incident).length,
    );
    await page.click("#filter-clear");
    await page.click('#by-host li[data-key="web-1.example"]');
    assert.equal(Number(await text("#count-total")), first.length - db.length);
    await page.click("#filter-clear");
  });

  test("clicking an alert shows its evidence", async () => {
    const a = first.find((x) => x.status === "new")!;
    await page.click(`#alerts tbody tr[data-id="${a.id}"]`);
    const detail = await text("#detail");
    assert.match(detail, new RegExp(a.incident));
    assert.match(detail, new RegExp(`version ${a.model.version.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const paths = (a.evidence as { recentPaths: string[] }).recentPaths;
    assert.ok(paths.length > 0);
    assert.ok(detail.includes(paths[paths.length - 1]), "recent paths listed");
    assert.match(detail, /top features/);
  });

  test("alerts stored while the page is open appear live", async () => {
    await publish(later);
    await waitFor(
      async () => Number(await text("#count-total")) === first.length + later.length,
      "live alerts",
      20_000,
    );
    assert.equal(Number(await text("#count-hosts")), 3);
    assert.equal(await text('#by-host li[data-key="late-3"] .n'), String(later.length));
    // Published twice (an agent replaying its spool): the stream keeps one, the page shows one.
    await publish(later.slice(0, 3));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(Number(await text("#count-total")), first.length + later.length);
    const shot = process.env.THREATLENS_SCREENSHOT;
    if (shot) {
      await page.click(`#alerts tbody tr[data-id="${later.find((x) => x.status === "new")!.id}"]`);
      await page.screenshot({ path: shot, fullPage: true });
    }
  });
});
