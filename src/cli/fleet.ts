import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { UsageError } from "../core/errors.ts";
import { PRIORITIES, type Priority } from "../core/stream/detector.ts";
import { onStopSignals } from "../core/stream/signals.ts";
import type { AgentInput } from "../fleet/sources.ts";
import { nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber } from "./options.ts";
import { printJson } from "./output.ts";

/** `threatlens fleet …` and `threatlens ui`: thin commands over src/fleet (docs/fleet.md). */
// The fleet's modules (and the NATS client) load only when a fleet command runs: other commands start faster.
const NATS_HELP = "NATS server URL (default: $THREATLENS_NATS)";
const DETECTOR_HELP = "detector (ransomware; network and syscalls once registered for fleet mode)";
/** Defaults shown in --help, kept equal to the library's (test/fleet/units.test.ts checks). */
export const CLI_DEFAULTS = {
  partitions: 8,
  ackWaitS: 15,
  alertsMaxAgeDays: 30,
  alertsMaxBytesMiB: 1024,
  eventsMaxBytesMiB: 4096,
};

function time(value: string): Date {
  const relative = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[relative[2] as "s" | "m" | "h" | "d"];
    return new Date(Date.now() - Number(relative[1]) * unit);
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError("expected an ISO-8601 time or an age like 15m, 2h, 1d");
  return new Date(t);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Long-running fleet commands keep reconnect timers alive: end the process once the command is done. */
function finish(code = 0): never {
  process.exit(code);
}

export function registerFleet(program: Command): void {
  const fleet = program
    .command("fleet")
    .description("many hosts on NATS JetStream: agents, scorers, one alert stream");

  fleet
    .command("server-config")
    .description("print the nats-server configuration fleet mode needs (JetStream, partition mapping)")
    .requiredOption("--store <dir>", "JetStream storage directory")
    .option("--port <port>", "client port", positiveInteger, 4222)
    .option("--listen <address>", "listen address", "127.0.0.1")
    .option(
      "--partitions <n>",
      "partitions per detector (fixed for the fleet's life)",
      positiveInteger,
      CLI_DEFAULTS.partitions,
    )
    .option("-o, --output <file>", "write it here instead of stdout")
    .action(async (opts) => {
      const { serverConfig } = await import("../fleet/server-config.ts");
      const text = serverConfig({
        host: opts.listen,
        port: opts.port,
        storeDir: resolve(opts.store),
        partitions: opts.partitions,
      });
      if (opts.output) writeFileSync(opts.output, text);
      else process.stdout.write(text);
    });

  fleet
    .command("init")
    .description("create the fleet's streams, consumers, buckets and model store (idempotent)")
    .option("--nats <url>", NATS_HELP)
    .option(
      "--ack-wait <seconds>",
      "redeliver a batch not acknowledged this long",
      positiveNumber,
      CLI_DEFAULTS.ackWaitS,
    )
    .option("--alerts-max-age <days>", "keep alerts this long", positiveNumber, CLI_DEFAULTS.alertsMaxAgeDays)
    .option(
      "--alerts-max-bytes <mib>",
      "keep at most this much of alerts",
      positiveNumber,
      CLI_DEFAULTS.alertsMaxBytesMiB,
    )
    .option(
      "--events-max-bytes <mib>",
      "unscored events kept at most (then agents buffer on disk)",
      positiveNumber,
      CLI_DEFAULTS.eventsMaxBytesMiB,
    )
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      const { connectNats, natsUrl } = await import("../fleet/connection.ts");
      const { initFleet, DEFAULT_LIMITS } = await import("../fleet/setup.ts");
      const { FLEET_DETECTORS } = await import("../fleet/registry.ts");
      const nc = await connectNats(natsUrl(opts.nats), { name: "threatlens fleet init" });
      try {
        const result = await initFleet(nc, FLEET_DETECTORS, {
          ...DEFAULT_LIMITS,
          ackWaitMs: opts.ackWait * 1000,
          alertsMaxAgeMs: opts.alertsMaxAge * 86400e3,
          alertsMaxBytes: Math.round(opts.alertsMaxBytes * 2 ** 20),
          eventsMaxBytes: Math.round(opts.eventsMaxBytes * 2 ** 20),
        });
        if (opts.json) printJson(result);
        else {
          console.log(
            `fleet ready: ${result.topology.partitions} partitions, detectors ${result.topology.detectors.join(", ")}; created ${result.created.length}, updated ${result.updated.length}, unchanged ${result.unchanged.length}`,
          );
          for (const what of result.created) console.log(`  created ${what}`);
          for (const what of result.updated) console.log(`  updated ${what}`);
        }
      } finally {
        await nc.close();
      }
    });

  const models = fleet.command("models").description("model versions in the fleet's object store");
  models
    .command("push")
    .description("publish a model as the detector's next version; scorers and edge agents switch to it live")
    .argument("[model]", "model file (default: the detector's model shipped in the package)")
    .option("--nats <url>", NATS_HELP)
    .requiredOption("--detector <detector>", DETECTOR_HELP)
    .option("--force", "publish even if its feature configuration differs from the current version's")
    .option("--json", "print the version as JSON")
    .action(async (model: string | undefined, opts) => {
      const { connectNats, natsUrl } = await import("../fleet/connection.ts");
      const { pushModel } = await import("../fleet/models.ts");
      const { fleetDetector } = await import("../fleet/registry.ts");
      model ??= fleetDetector(opts.detector).defaultModel;
      if (model === undefined)
        throw new UsageError(`no ${opts.detector} model is shipped in the package: give a model file`);
      const nc = await connectNats(natsUrl(opts.nats), { name: "threatlens fleet models push" });
      try {
        const { pointer, changed } = await pushModel(nc, opts.detector, model, { force: opts.force });
        if (opts.json) printJson({ ...pointer, changed });
        else
          console.log(
            changed
              ? `${pointer.detector} model version ${pointer.version}: ${pointer.name} (${pointer.hash})`
              : `${pointer.detector} model version ${pointer.version} is already this file (${pointer.hash}): nothing pushed`,
          );
      } finally {
        await nc.close();
      }
    });
  models
    .command("list")
    .description("list a detector's model versions")
    .option("--nats <url>", NATS_HELP)
    .requiredOption("--detector <detector>", DETECTOR_HELP)
    .option("--json", "JSON")
    .action(async (opts) => {
      const { connectNats, natsUrl } = await import("../fleet/connection.ts");
      const { listModels } = await import("../fleet/models.ts");
      const nc = await connectNats(natsUrl(opts.nats), { name: "threatlens fleet models list" });
      try {
        const list = await listModels(nc, opts.detector);
        if (opts.json) printJson(list);
        else for (const m of list) console.log(`${m.version}\t${m.name}\t${m.hash}\t${m.pushedAt}`);
      } finally {
        await nc.close();
      }
    });

  fleet
    .command("agent")
    .description("ship a host's events to the scorers (thin) or score them here and ship alerts (--edge)")
    .argument("[inputs...]", "event files to ship and exit once acknowledged; - for stdin")
    .option("--nats <url>", NATS_HELP)
    .requiredOption("--host <name>", "this host's name in the fleet (alerts carry it)")
    .requiredOption("--detector <detector>", DETECTOR_HELP)
    .option("--follow <log>", "follow a log as it grows, until SIGINT/SIGTERM")
    .option("--collect", "collect events live with the eBPF collector (root), until SIGINT/SIGTERM")
    .option("--pid <pid>", "with --collect: only this process and its descendants", positiveInteger)
    .option("--cgroup <path>", "with --collect: only the processes of this cgroup")
    .option("--comm <name>", "with --collect: only processes with this command name")
    .option("--interface <if>", "capture a network interface live with tcpdump (root), until SIGINT/SIGTERM")
    .option("--filter <expr>", "with --interface: a capture filter (tcpdump syntax), e.g. 'not port 4222'")
    .option(
      "--snaplen <bytes>",
      "network: bytes shipped of each packet (headers are all the detector reads; 0: whole packets)",
      nonNegativeInteger,
      256,
    )
    .option("--edge", "score on this host with the fleet's model and ship alerts and summaries only")
    .option(
      "--state <dir>",
      "state directory: session, disk spool, progress (default ~/.local/state/threatlens/agent/…)",
    )
    .option("--spool-max <mib>", "disk spool bound (unacknowledged data)", positiveNumber, 256)
    .addOption(
      new Option(
        "--overload <policy>",
        "when the spool is full: hold the input back, or drop batches (counted)",
      )
        .choices(["block", "drop"])
        .default("block"),
    )
    .option("--batch-lines <n>", "lines per batch at most", positiveInteger, 2000)
    .option("--linger-ms <ms>", "ship a batch after this long even if not full", positiveNumber, 100)
    .option(
      "--timeout <seconds>",
      "files: give up waiting for acknowledgements after this long (exit 1, spool kept)",
      positiveNumber,
    )
    .option(
      "--stats <seconds>",
      "progress line on stderr every so many seconds (0: none)",
      nonNegativeNumber,
      5,
    )
    .option("--json", "print the final statistics as JSON on stdout")
    .action(async (inputs: string[], opts) => {
      const { natsUrl } = await import("../fleet/connection.ts");
      const { runAgent, formatAgentStats } = await import("../fleet/agent.ts");
      const { fleetInput } = await import("../fleet/inputs.ts");
      fleetInput(opts.detector);
      const given = [opts.follow, opts.collect, opts.interface, inputs.length > 0].filter(Boolean).length;
      if (given > 1)
        throw new UsageError("give one input: files, --follow LOG, --collect, --interface IF or -");
      if (opts.interface && opts.detector !== "network")
        throw new UsageError("--interface captures packets: it feeds the network detector");
      if (opts.filter !== undefined && !opts.interface)
        throw new UsageError("--filter is a capture filter of --interface");
      if ([opts.pid, opts.cgroup, opts.comm].some((v) => v !== undefined) && !opts.collect)
        throw new UsageError("--pid, --cgroup and --comm choose what --collect traces");
      if (opts.collect && opts.detector !== "ransomware")
        throw new UsageError("--collect collects file events: it feeds the ransomware detector");
      // The collector runs in this process (it never traces itself); a signal stops it, its last events are still
      // shipped, and the agent exits once the server has them.
      const collector = opts.collect
        ? (await import("../collector/index.ts")).startCollector({
            format: "extended",
            scope: (await import("./collect.ts")).collectorScope(opts, [], false),
          })
        : null;
      if (collector) await collector.ready;
      // tcpdump runs beside the agent; a signal stops it, the packets it wrote are still shipped.
      const capture = opts.interface
        ? new (await import("../network/live/tcpdump.ts")).LiveCapture({
            interface: opts.interface,
            filter: opts.filter,
            snaplen: opts.snaplen,
          })
        : null;
      if (capture) {
        await capture.started();
        log(`threatlens: tcpdump listening on ${opts.interface}`);
      }
      const live = collector ?? capture;
      const untrap = live ? onStopSignals(() => void live.stop()) : null;
      const input: AgentInput = collector
        ? { kind: "stream", stream: collector.output, name: "collector" }
        : capture
          ? { kind: "stream", stream: capture.output, name: capture.name }
          : opts.follow
            ? { kind: "follow", path: opts.follow }
            : inputs.length === 1 && inputs[0] === "-"
              ? { kind: "stdin" }
              : { kind: "files", paths: inputs };
      const common = {
        nats: natsUrl(opts.nats),
        host: opts.host,
        detector: opts.detector,
        input,
        stateDir: opts.state,
        spoolMaxBytes: Math.round(opts.spoolMax * 2 ** 20),
        overload: opts.overload,
        batchLines: opts.batchLines,
        lingerMs: opts.lingerMs,
        timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000,
        statsMs: opts.stats * 1000,
        snaplen: opts.snaplen,
        handleSignals: live === null,
        onWarning: (m: string) => log(`threatlens: ${m}`),
        onInfo: (m: string) => log(m),
      };
      // tcpdump's counts are final once it exited: packets the kernel dropped are the capture's only loss.
      const endCapture = async () => {
        if (!capture) return null;
        const counts = await capture.stop();
        for (const w of capture.warnings) log(`threatlens: tcpdump: ${w}`);
        log(
          `tcpdump: ${counts.captured.toLocaleString("en-US")} packets captured, ${counts.dropped} dropped by the kernel`,
        );
        return counts;
      };
      if (opts.edge) {
        // Only an edge agent scores: a thin one never loads the detector's models and engine.
        const { runEdgeAgent } = await import("../fleet/edge.ts");
        const stats = await runEdgeAgent(common);
        const captured = await endCapture();
        if (opts.json) printJson(captured ? { ...stats, capture: captured } : stats);
        const e = stats.engine;
        log(
          `threatlens edge agent ${stats.host}/${stats.detector}: events ${e?.records ?? 0}, alerts ${e?.alerts ?? 0} (incidents ${e?.incidents ?? 0}), published ${stats.alertsPublished}, still buffered ${stats.alertsBuffered}, model version ${stats.modelVersion}`,
        );
        finish(stats.alertsBuffered > 0 ? 1 : 0);
      }
      const stats = await runAgent(common);
      untrap?.();
      if (collector) {
        const c = await collector.stop();
        log(
          `threatlens collector: ${c.events.toLocaleString("en-US")} events in ${(c.durationMs / 1000).toFixed(1)} s, ${c.lost} lost between the kernel and the collector`,
        );
      }
      const captured = await endCapture();
      if (opts.json) printJson(captured ? { ...stats, capture: captured } : stats);
      log(
        `${formatAgentStats(stats)}${stats.complete ? "" : " — gave up waiting; the spool keeps the rest for the next run"}`,
      );
      finish(stats.complete ? 0 : 1);
    });

  fleet
    .command("scorer")
    .description("score the fleet's events: take a share of the partitions, run until stopped")
    .option("--nats <url>", NATS_HELP)
    .option("--id <name>", "scorer name in leases and summaries")
    .option("--checkpoint-ms <ms>", "store state and acknowledge batches this often", positiveInteger, 1000)
    .option("--lease-ms <ms>", "a scorer silent this long loses its partitions", positiveInteger, 10_000)
    .option("--stats <seconds>", "stats line on stderr every so many seconds", positiveNumber, 5)
    .option("--json", "final statistics as JSON on stdout")
    .action(async (opts) => {
      const { natsUrl } = await import("../fleet/connection.ts");
      const { runScorer } = await import("../fleet/scorer.ts");
      const stats = await runScorer({
        nats: natsUrl(opts.nats),
        id: opts.id,
        checkpointMs: opts.checkpointMs,
        leaseMs: opts.leaseMs,
        statsMs: opts.stats * 1000,
        handleSignals: true,
        onInfo: (m: string) => log(m),
        onWarning: (m: string) => log(`threatlens: ${m}`),
      });
      if (opts.json) printJson(stats);
      finish(0);
    });

  fleet
    .command("alerts")
    .description("print the fleet's alerts (every stored one; --follow for new ones as they come)")
    .option("--nats <url>", NATS_HELP)
    .option("--follow", "keep printing new alerts until interrupted")
    .option("--json", "one alert object per line")
    .option("--host <name>", "only this host")
    .option("--detector <detector>", "only this detector")
    .addOption(new Option("--priority <level>", "only this priority or higher").choices([...PRIORITIES]))
    .option("--since <time>", "only alerts raised at or after (ISO-8601, or an age: 15m, 2h, 1d)", time)
    .option("--until <time>", "only alerts raised before", time)
    .action(async (opts) => {
      const { connectNats, natsUrl } = await import("../fleet/connection.ts");
      const { readAlerts, formatFleetAlert } = await import("../fleet/alerts.ts");
      const nc = await connectNats(natsUrl(opts.nats), {
        name: "threatlens fleet alerts",
        persistent: opts.follow,
      });
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const shown = await readAlerts(
        nc,
        {
          host: opts.host,
          detector: opts.detector,
          priority: opts.priority as Priority | undefined,
          since: opts.since,
          until: opts.until,
          follow: opts.follow,
        },
        (a) => process.stdout.write(`${opts.json ? JSON.stringify(a) : formatFleetAlert(a)}\n`),
        abort.signal,
      );
      if (!opts.json) log(`${shown} alert(s)`);
      await nc.close();
      finish(0);
    });
}

export function registerUi(program: Command): void {
  program
    .command("ui")
    .description("web page with the fleet's alerts live: timeline, counts, evidence, filters")
    .option("--nats <url>", NATS_HELP)
    .option("--port <port>", "HTTP port", positiveInteger, 8480)
    .option("--listen <address>", "listen address", "127.0.0.1")
    .action(async (opts) => {
      const { natsUrl } = await import("../fleet/connection.ts");
      const { serveUi } = await import("../fleet/ui/server.ts");
      const server = await serveUi({
        nats: natsUrl(opts.nats),
        port: opts.port,
        host: opts.listen,
        onInfo: log,
      });
      log(`threatlens ui: http://${opts.listen}:${server.port}/ (Ctrl-C to stop)`);
      await new Promise<void>((r) => {
        process.once("SIGINT", r);
        process.once("SIGTERM", r);
      });
      await server.close();
      finish(0);
    });
}
