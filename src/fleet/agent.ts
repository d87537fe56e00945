import { resolve } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { InputError } from "../core/errors.ts";
import type { LineSource } from "../core/stream/line-sources.ts";
import { AgentState, defaultAgentStateDir } from "./agent-state.ts";
import { type BatchHeader, batchHeaders, batchMsgId } from "./batches.ts";
import { connectNats, sleep } from "./connection.ts";
import type { FleetInput } from "./detectors.ts";
import { fleetInput } from "./inputs.ts";
import { agentSummarySubject, checkHostName, ingestSubject } from "./names.ts";
import { SpoolPublisher } from "./publisher.ts";
import { type AgentInput, inputSources } from "./sources.ts";
import { Spool } from "./spool.ts";

/**
 * The thin agent: reads a host's events and ships them, in batches, to the scorers. It does not parse records (that
 * is the scorers' job, with the detector's own parser), so it costs a host little: lines are cut into batches, each
 * batch goes to the disk spool and then to JetStream under a message id, and the spool forgets it once the server
 * acknowledged it. See edge.ts for the agent that scores locally.
 */
export interface AgentOptions {
  nats: string;
  host: string;
  detector: string;
  input: AgentInput;
  /** Packet captures: bytes shipped of each packet (default 256, headers; 0 for whole packets). */
  snaplen?: number;
  /** State directory (session, spool, progress); default under ~/.local/state/threatlens/agent/. */
  stateDir?: string;
  /** Bound on the disk spool (bytes of unacknowledged batches). */
  spoolMaxBytes?: number;
  /** When the spool is full: hold the input back (block) or drop batches, counted (drop). */
  overload?: "block" | "drop";
  batchLines?: number;
  batchBytes?: number;
  /** A batch waits at most this long for more lines before it is shipped (live inputs). */
  lingerMs?: number;
  /** Batches in flight to the server at once. */
  window?: number;
  /** Progress line on stderr every so many ms (0: none). */
  statsMs?: number;
  /** Summary published to the server every so many ms. */
  summaryMs?: number;
  /** Files: give up waiting for the server's acknowledgements after this long (the spool keeps the rest). */
  timeoutMs?: number;
  handleSignals?: boolean;
  onWarning?: (message: string) => void;
  onInfo?: (message: string) => void;
}

export interface AgentStats {
  host: string;
  detector: string;
  mode: "thin" | "edge";
  session: string;
  /** Lines read from the input. */
  lines: number;
  batches: number;
  /** Batches and lines acknowledged by the server. */
  acknowledged: number;
  /** Batches and their lines dropped because the spool was full (overload drop). */
  droppedBatches: number;
  droppedLines: number;
  /** Batches waiting in the spool, and their bytes. */
  buffered: number;
  bufferedBytes: number;
  /** Batches found in the spool at start (not acknowledged before the last stop). */
  recovered: number;
  publishFailures: number;
  duplicates: number;
  connected: boolean;
  resumed: boolean;
  stoppedBySignal: boolean;
  /** Files: false when the agent gave up waiting for acknowledgements (--timeout). */
  complete: boolean;
}

interface RunRecord {
  paths: string[];
  complete: boolean;
}

/** What thin and edge agents start from: the checked host name, the detector, its input sources, the state directory. */
export function openAgent(options: AgentOptions) {
  const host = checkHostName(options.host);
  const detector = fleetInput(options.detector);
  const sources = inputSources(options.input, detector, { snaplen: options.snaplen });
  const state = new AgentState(
    options.stateDir ?? defaultAgentStateDir(host, detector.kind),
    host,
    detector.kind,
  );
  return { host, detector, sources, state };
}

export async function runAgent(options: AgentOptions): Promise<AgentStats> {
  const { host, detector, sources, state } = openAgent(options);
  const spool = new Spool<BatchHeader>(state.path("spool"), { maxBytes: options.spoolMaxBytes });
  const stats: AgentStats = {
    host,
    detector: detector.kind,
    mode: "thin",
    session: state.session.session,
    lines: 0,
    batches: 0,
    acknowledged: 0,
    droppedBatches: 0,
    droppedLines: 0,
    buffered: spool.unacknowledged,
    bufferedBytes: spool.unacknowledgedBytes,
    recovered: spool.recovered,
    publishFailures: 0,
    duplicates: 0,
    connected: false,
    resumed: false,
    stoppedBySignal: false,
    complete: true,
  };
  if (spool.recovered > 0)
    options.onInfo?.(
      `${spool.recovered} batch(es) from before the last stop are in the spool: publishing them first`,
    );
  if (spool.tornBytes > 0)
    options.onWarning?.(
      `the spool ended in a record torn by a crash (${spool.tornBytes} bytes): cut, its lines are read again`,
    );

  const link = new ServerLink(options.nats, `threatlens agent ${host} ${detector.kind}`, options.onWarning);
  let publisher: SpoolPublisher<BatchHeader> | null = null;
  link.ready.then((nc) => {
    publisher = new SpoolPublisher<BatchHeader>(
      jetstream(nc),
      spool,
      {
        subject: (h) => ingestSubject(h.detector, h.host),
        msgId: batchMsgId,
        headers: batchHeaders,
      },
      {
        window: options.window,
        onError: (m) => options.onWarning?.(`publishing: ${m} (retrying; batches stay in the spool)`),
      },
    );
  });

  const batcher = new Batcher(spool, state.session.session, host, detector, options, stats, () =>
    publisher?.kick(),
  );
  const plan = resumePlan(options.input, state, spool, sources);
  stats.resumed = plan.resumed;

  let current: LineSource | null = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    stats.stoppedBySignal = true;
    current?.stop();
  };
  if (options.handleSignals) {
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  }
  // The acknowledged watermark on disk lags by up to a second: after a crash, what was acknowledged meanwhile is sent
  // again and dropped by the server as a duplicate.
  const metaTimer = setInterval(() => spool.saveMeta(), 1000);
  const update = () => {
    stats.buffered = spool.unacknowledged;
    stats.bufferedBytes = spool.unacknowledgedBytes;
    stats.connected = link.connected;
    stats.acknowledged = stats.batches + stats.recovered - stats.droppedBatches - spool.unacknowledged;
    const p = publisher as SpoolPublisher<BatchHeader> | null;
    if (p) {
      stats.publishFailures = p.stats.failures;
      stats.duplicates = p.stats.duplicates;
    }
  };
  const statsTimer =
    (options.statsMs ?? 0) > 0
      ? setInterval(() => {
          update();
          options.onInfo?.(formatAgentStats(stats));
        }, options.statsMs)
      : null;
  const summaryTimer = setInterval(() => {
    update();
    link.summary(agentSummarySubject(detector.kind, host), stats);
  }, options.summaryMs ?? 5000);
  for (const t of [metaTimer, statsTimer, summaryTimer]) t?.unref();

  try {
    for (let i = plan.sourceIndex; i < sources.length && !stopped; i++) {
      const source = sources[i];
      current = source;
      if (i === plan.sourceIndex && plan.position) source.resume?.(plan.position);
      batcher.begin(source, i, !(i === plan.sourceIndex && plan.midSource));
      await source.run(
        (bytes, start, end, line) => batcher.line(bytes, start, end, line),
        () => batcher.chunk(),
      );
      const ended = !stopped && options.input.kind === "files";
      batcher.cut(ended ? "e" : "");
    }
    batcher.cut("");
    // Everything read is in the spool: wait for the server to acknowledge it.
    const waited = await waitForAcks(spool, options.timeoutMs, options.onInfo, () => {
      update();
      return stats;
    });
    stats.complete = waited;
    if (waited && options.input.kind === "files" && !stopped)
      state.writeJson("run.json", { ...plan.run, complete: true });
  } finally {
    for (const t of [metaTimer, statsTimer, summaryTimer]) if (t) clearInterval(t);
    batcher.close();
    if (options.handleSignals) {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    update();
    await (publisher as SpoolPublisher<BatchHeader> | null)?.stop();
    await link.summaryNow(agentSummarySubject(detector.kind, host), stats);
    spool.close();
    await link.close();
    state.unlock();
  }
  return stats;
}

/** Where to start: a files run interrupted before it was acknowledged resumes after its last spooled batch. */
function resumePlan(
  input: AgentInput,
  state: AgentState,
  spool: Spool<BatchHeader>,
  sources: LineSource[],
): {
  sourceIndex: number;
  position: BatchHeader["position"];
  midSource: boolean;
  resumed: boolean;
  run: RunRecord;
} {
  const last = spool.last;
  const fresh = { sourceIndex: 0, position: null, midSource: false, resumed: false };
  if (input.kind === "files") {
    const run: RunRecord = { paths: input.paths.map((p) => resolve(p)), complete: false };
    const previous = state.readJson<RunRecord>("run.json");
    const same =
      previous && !previous.complete && JSON.stringify(previous.paths) === JSON.stringify(run.paths);
    state.writeJson("run.json", run);
    if (!same || !last || last.sourceIndex >= sources.length) return { ...fresh, run };
    if (last.flags.includes("e")) return { ...fresh, sourceIndex: last.sourceIndex + 1, resumed: true, run };
    return { sourceIndex: last.sourceIndex, position: last.position, midSource: true, resumed: true, run };
  }
  const run: RunRecord = { paths: [], complete: false };
  if (input.kind === "follow" && last?.position && last.source === input.path) {
    return { sourceIndex: 0, position: last.position, midSource: true, resumed: true, run };
  }
  return { ...fresh, run };
}

async function waitForAcks(
  spool: Spool<BatchHeader>,
  timeoutMs: number | undefined,
  onInfo: ((message: string) => void) | undefined,
  read: () => AgentStats,
): Promise<boolean> {
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  let lastNote = Date.now();
  while (spool.unacknowledged > 0) {
    if (Date.now() >= deadline) return false;
    await Promise.race([spool.waitForEmpty(), sleep(Math.min(1000, Math.max(1, deadline - Date.now())))]);
    if (spool.unacknowledged > 0 && Date.now() - lastNote >= 5000) {
      lastNote = Date.now();
      const s = read();
      onInfo?.(
        `waiting for the server to acknowledge ${s.buffered} batch(es) (${(s.bufferedBytes / 1048576).toFixed(1)} MiB)${s.connected ? "" : "; not connected"}`,
      );
    }
  }
  spool.saveMeta();
  return true;
}

/** Cuts one source's lines into batches and appends them to the spool. */
class Batcher {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private count = 0;
  private runs: [number, number][] = [];
  private lastLine = -2;
  private openedAt = 0;
  private source: LineSource | null = null;
  private sourceIndex = 0;
  private flags = "";
  /** Ships a batch that has waited `lingerMs` for more lines: armed when a batch opens, so an idle agent sleeps. */
  private lingerTimer: NodeJS.Timeout | null = null;
  private readonly maxLines: number;
  private readonly maxBytes: number;
  private readonly lingerMs: number;

  constructor(
    private readonly spool: Spool<BatchHeader>,
    private readonly session: string,
    private readonly host: string,
    private readonly detector: FleetInput,
    private readonly options: AgentOptions,
    private readonly stats: AgentStats,
    private readonly kick: () => void,
  ) {
    this.maxLines = options.batchLines ?? 2000;
    this.maxBytes = options.batchBytes ?? 256 << 10;
    this.lingerMs = options.lingerMs ?? 100;
  }

  begin(source: LineSource, index: number, fromStart: boolean): void {
    this.source = source;
    this.sourceIndex = index;
    this.flags = fromStart ? "b" : "";
    this.lastLine = -2;
  }

  line(bytes: Uint8Array, start: number, end: number, line: number): void {
    if (line === 1) {
      const problem = this.detector.checkFirstLine(
        Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString(),
      );
      if (problem) throw new InputError(problem, { file: this.source?.name, line });
    }
    const length = end - start;
    if (this.used + length + 1 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + length + 1));
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    if (this.count === 0) {
      this.openedAt = Date.now();
      if (this.lingerTimer === null) {
        this.lingerTimer = setTimeout(() => {
          this.lingerTimer = null;
          this.linger();
        }, this.lingerMs);
      }
    }
    // Buffer#copy takes the range itself: no view object per line.
    Buffer.prototype.copy.call(bytes, this.buffer, this.used, start, end);
    this.used += length;
    this.buffer[this.used++] = 10;
    if (line === this.lastLine + 1) this.runs[this.runs.length - 1][1]++;
    else this.runs.push([line, 1]);
    this.lastLine = line;
    this.count++;
    this.stats.lines++;
    if (this.count >= this.maxLines || this.used >= this.maxBytes) this.cut("");
  }

  /** Between chunks: hold the input back while the spool is full (block). */
  chunk(): Promise<void> | undefined {
    if (this.spool.full && (this.options.overload ?? "block") === "block") return this.spool.waitForRoom();
    return undefined;
  }

  private linger(): void {
    if (this.count === 0) return;
    const waited = Date.now() - this.openedAt;
    if (waited >= this.lingerMs) this.cut("");
    else
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.linger();
      }, this.lingerMs - waited);
  }

  close(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  /** Closes the current batch (with extra flags, e.g. "e" at the end of a file) and appends it to the spool. */
  cut(extra: string): void {
    const flags = this.flags + extra;
    if (this.count === 0 && extra === "") return;
    if (this.spool.full && (this.options.overload ?? "block") === "drop") {
      this.stats.droppedBatches++;
      this.stats.droppedLines += this.count;
      this.options.onWarning?.(
        `the spool is full (${(this.spool.unacknowledgedBytes / 1048576).toFixed(1)} MiB unacknowledged): dropped a batch of ${this.count} line(s)`,
      );
      // The source's begin flag is not lost with the batch: the next one carries it.
      this.reset();
      return;
    }
    this.spool.append(
      {
        session: this.session,
        host: this.host,
        detector: this.detector.kind,
        source: this.source?.name ?? "",
        lines: this.runs,
        flags,
        position: this.source?.position() ?? null,
        sourceIndex: this.sourceIndex,
        closedAt: Date.now(),
      },
      this.buffer.subarray(0, this.used),
    );
    this.stats.batches++;
    this.flags = "";
    this.reset();
    this.kick();
  }

  private reset(): void {
    this.used = 0;
    this.count = 0;
    this.runs = [];
    this.lastLine = -2;
  }
}

/**
 * The agent's connection, made in the background: reading and spooling start at once, publishing when the server
 * answers, and the client reconnects by itself after a loss.
 */
export class ServerLink {
  readonly ready: Promise<NatsConnection>;
  private nc: NatsConnection | null = null;
  connected = false;
  private closed = false;
  /** Called after every reconnection. */
  onReconnect: (() => void) | null = null;

  constructor(url: string, name: string, onWarning?: (message: string) => void) {
    this.ready = connectNats(url, { name, persistent: true }).then((nc) => {
      this.nc = nc;
      this.connected = true;
      (async () => {
        for await (const s of nc.status()) {
          if (s.type === "disconnect") {
            this.connected = false;
            if (!this.closed) onWarning?.(`lost the server at ${url}: buffering to disk and reconnecting`);
          } else if (s.type === "reconnect") {
            this.connected = true;
            onWarning?.(`reconnected to ${url}`);
            this.onReconnect?.();
          }
        }
      })().catch(() => {});
      return nc;
    });
    this.ready.catch(() => {});
  }

  /** Publishes a summary (best effort: summaries are a view, not data). */
  summary(subject: string, body: unknown): void {
    const nc = this.nc;
    if (!nc || !this.connected) return;
    jetstream(nc)
      .publish(subject, JSON.stringify({ ...(body as object), at: new Date().toISOString() }))
      .catch(() => {});
  }

  async summaryNow(subject: string, body: unknown): Promise<void> {
    const nc = this.nc;
    if (!nc || !this.connected) return;
    await jetstream(nc)
      .publish(subject, JSON.stringify({ ...(body as object), at: new Date().toISOString() }), {
        timeout: 2000,
      })
      .catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    if (nc) await nc.drain().catch(() => nc.close());
  }
}

export function formatAgentStats(s: AgentStats): string {
  const mib = (s.bufferedBytes / 1048576).toFixed(1);
  return `threatlens agent ${s.host}/${s.detector}: lines ${s.lines.toLocaleString("en-US")}, batches ${s.batches} (acknowledged ${s.acknowledged}), buffered ${s.buffered} (${mib} MiB), dropped ${s.droppedBatches} batch(es) / ${s.droppedLines} line(s), ${s.connected ? "connected" : "not connected"}`;
}
