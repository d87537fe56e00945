/**
 * npm run bench:network-watch-by-source — how `network watch` does on captures from a source it never saw: for each
 * source of ../shared/data/pcaps (chrissanders, ndpi, stopddos), a model is trained with the shipped defaults on the
 * other two, then every labelled capture of the held-out source is replayed through `watch` with it. A malicious
 * capture counts as caught when it raises at least one incident; a benign one as a false alarm when it does. This is
 * the capture-level figure an operator sees (incidents, not flows), on sources left out of training; measured for
 * several --min-flagged settings (flagged flows a host needs before it raises an incident).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createProgress } from "../src/core/progress.ts";
import { watchNetwork } from "../src/network/live/watch.ts";
import { trainCommand } from "../src/network/pipeline.ts";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const pcaps = join(root, "..", "shared", "data", "pcaps");
if (!existsSync(pcaps)) {
  console.log(`bench:network-watch-by-source: ${pcaps} is absent; nothing to measure.`);
  process.exit(0);
}
const manifest = join(pcaps, "manifest.tsv");
const [header, ...rows] = readFileSync(manifest, "utf8").trimEnd().split("\n");
const columns = header.split("\t");
const at = (name: string) => columns.indexOf(name);
const captures = rows
  .map((r) => r.split("\t"))
  .filter((c) => c[at("label")] !== "ambiguous")
  .map((c) => ({
    path: join(pcaps, c[at("file")]),
    label: c[at("label")],
    category: c[at("category")],
    source: c[at("file")].split("/")[1].split("__")[0],
  }));
const sources = [...new Set(captures.map((c) => c.source))].sort();
const work = mkdtempSync(join(tmpdir(), "threatlens-bench-"));
const quiet = createProgress({ quiet: true });
console.log(`load average ${loadavg()[0].toFixed(1)} at start (other jobs share this machine)`);
const MIN_FLAGGED = [1, 2, 3, 5, 10];
try {
  const models = new Map<string, string>();
  for (const source of sources) {
    const model = join(work, `without-${source}.json`);
    const train = captures.filter((c) => c.source !== source).map((c) => c.path);
    await trainCommand(train, { output: model, manifest }, quiet);
    models.set(source, model);
  }
  for (const minFlaggedFlows of MIN_FLAGGED) {
    console.log(`\n--min-flagged ${minFlaggedFlows}`);
    await measure(models, minFlaggedFlows);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function measure(models: Map<string, string>, minFlaggedFlows: number): Promise<void> {
  const missed: string[] = [];
  const alarms: string[] = [];
  let caught = 0;
  let malicious = 0;
  let falseAlarms = 0;
  let benign = 0;
  for (const source of sources) {
    const model = models.get(source)!;
    let m = 0;
    let mCaught = 0;
    let b = 0;
    let bAlarms = 0;
    let incidents = 0;
    for (const c of captures.filter((x) => x.source === source)) {
      const { summary } = await watchNetwork({
        model,
        input: { kind: "captures", paths: [c.path] },
        stdout: null,
        minFlaggedFlows,
      });
      incidents += summary.incidents;
      if (c.label === "malicious") {
        m++;
        if (summary.incidents > 0) mCaught++;
        else missed.push(`${source}: ${c.category}`);
      } else {
        b++;
        if (summary.incidents > 0) {
          bAlarms++;
          alarms.push(`${source}: ${c.category} (${summary.incidents} incident(s))`);
        }
      }
    }
    caught += mCaught;
    malicious += m;
    falseAlarms += bAlarms;
    benign += b;
    console.log(
      `held out ${source.padEnd(13)} malicious captures with an incident ${mCaught}/${m}, benign captures with an incident ${bAlarms}/${b}, incidents ${incidents}`,
    );
  }
  console.log(
    `all sources held out in turn: malicious captures caught ${caught}/${malicious} (${((100 * caught) / malicious).toFixed(1)} %), benign captures with a false alarm ${falseAlarms}/${benign} (${((100 * falseAlarms) / Math.max(benign, 1)).toFixed(1)} %)`,
  );
  console.log(`missed: ${missed.join(", ")}`);
  console.log(`false alarms: ${alarms.join(", ")}`);
}
