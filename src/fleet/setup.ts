import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { FleetError } from "./connection.ts";
import type { FleetDetector } from "./detectors.ts";
import {
  ALERTS_PREFIX,
  ALERTS_STREAM,
  consumerName,
  EVENTS_PREFIX,
  EVENTS_STREAM,
  FLEET_BUCKET,
  hostToken,
  INGEST_PREFIX,
  MODELS_BUCKET,
  partitionFilter,
  partitionOf,
  STATE_BUCKET,
  SUMMARIES_PREFIX,
  SUMMARIES_STREAM,
  TOPOLOGY_KEY,
} from "./names.ts";

/**
 * `fleet init`: creates (or brings up to date) everything fleet mode keeps on the server — streams, one durable pull
 * consumer per detector and partition, the key-value buckets and the model store — after checking that the server
 * partitions subjects the way the scorers expect. Running it again changes nothing that is already right.
 */
export interface FleetLimits {
  /** Events waiting to be scored, at most (bytes): when full, the server refuses publishes and agents buffer on disk. */
  eventsMaxBytes: number;
  eventsMaxAgeMs: number;
  /** How long the server remembers message ids to drop re-published batches and alerts. */
  eventsDedupMs: number;
  alertsMaxBytes: number;
  alertsMaxAgeMs: number;
  alertsMaxMsgs: number;
  alertsDedupMs: number;
  /** A delivered event batch not acknowledged within this time is delivered again (a scorer died). */
  ackWaitMs: number;
  /** Checkpoints of hosts that sent nothing for this long are dropped by the server. */
  stateMaxAgeMs: number;
}

const DAY = 86_400_000;
export const DEFAULT_LIMITS: FleetLimits = {
  eventsMaxBytes: 4 * 2 ** 30,
  eventsMaxAgeMs: 7 * DAY,
  eventsDedupMs: 10 * 60_000,
  alertsMaxBytes: 2 ** 30,
  alertsMaxAgeMs: 30 * DAY,
  alertsMaxMsgs: 10_000_000,
  alertsDedupMs: 24 * 3_600_000,
  ackWaitMs: 15_000,
  stateMaxAgeMs: 30 * DAY,
};

/** Every detector's events are kept, registered in fleet mode or not yet, so a later registration finds its subjects. */
const EVENT_KINDS = ["ransomware", "syscalls", "network"];

export interface Topology {
  format: "threatlens-fleet";
  version: 1;
  partitions: number;
  detectors: string[];
  ackWaitMs: number;
  initializedAt: string;
}

export interface InitResult {
  topology: Topology;
  created: string[];
  updated: string[];
  unchanged: string[];
}

export async function initFleet(
  nc: NatsConnection,
  detectors: readonly FleetDetector[],
  limits: FleetLimits = DEFAULT_LIMITS,
): Promise<InitResult> {
  const partitions = await probePartitions(nc);
  const jsm = await jetstreamManager(nc);
  const result: InitResult = {
    topology: {
      format: "threatlens-fleet",
      version: 1,
      partitions,
      detectors: detectors.map((d) => d.kind),
      ackWaitMs: limits.ackWaitMs,
      initializedAt: new Date().toISOString(),
    },
    created: [],
    updated: [],
    unchanged: [],
  };
  const note = (what: string, change: "created" | "updated" | "unchanged") => result[change].push(what);
  note(
    `stream ${EVENTS_STREAM}`,
    await ensureStream(jsm, {
      name: EVENTS_STREAM,
      subjects: EVENT_KINDS.map((k) => `${EVENTS_PREFIX}.${k}.>`),
      // Work queue: a batch is removed once its scorer acknowledged it; with "discard new" a full stream refuses
      // publishes instead of dropping unscored events, and agents keep them on disk until there is room.
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_bytes: limits.eventsMaxBytes,
      max_age: nanos(limits.eventsMaxAgeMs),
      duplicate_window: nanos(limits.eventsDedupMs),
      storage: StorageType.File,
      num_replicas: 1,
    }),
  );
  note(
    `stream ${ALERTS_STREAM}`,
    await ensureStream(jsm, {
      name: ALERTS_STREAM,
      subjects: [`${ALERTS_PREFIX}.>`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_bytes: limits.alertsMaxBytes,
      max_age: nanos(limits.alertsMaxAgeMs),
      max_msgs: limits.alertsMaxMsgs,
      duplicate_window: nanos(limits.alertsDedupMs),
      storage: StorageType.File,
      num_replicas: 1,
    }),
  );
  note(
    `stream ${SUMMARIES_STREAM}`,
    await ensureStream(jsm, {
      name: SUMMARIES_STREAM,
      subjects: [`${SUMMARIES_PREFIX}.>`],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_msgs_per_subject: 10,
      max_age: nanos(DAY),
      storage: StorageType.File,
      num_replicas: 1,
    }),
  );
  for (const detector of detectors) {
    for (let p = 0; p < partitions; p++) {
      const name = consumerName(detector.kind, p);
      note(`consumer ${name}`, await ensureConsumer(jsm, name, partitionFilter(detector.kind, p), limits));
    }
  }
  const kvm = new Kvm(nc);
  note(`bucket ${STATE_BUCKET}`, await ensureBucket(jsm, kvm, STATE_BUCKET, 1, limits.stateMaxAgeMs));
  note(`bucket ${FLEET_BUCKET}`, await ensureBucket(jsm, kvm, FLEET_BUCKET, 5, 0));
  const objm = new Objm(nc);
  const hadModels = await streamExists(jsm, `OBJ_${MODELS_BUCKET}`);
  await objm.create(MODELS_BUCKET, { storage: StorageType.File });
  note(`object store ${MODELS_BUCKET}`, hadModels ? "unchanged" : "created");
  const fleet = await kvm.open(FLEET_BUCKET);
  const previous = await fleet.get(TOPOLOGY_KEY);
  if (previous?.operation === "PUT") {
    const old = previous.json<Topology>();
    if (old.partitions !== partitions) {
      throw new FleetError(
        `the server now maps events onto ${partitions} partitions, but this fleet was set up with ${old.partitions}: hosts would move between partitions and lose their scoring state. Start the server with a config for ${old.partitions} partitions, or set up a fresh fleet (new JetStream store).`,
      );
    }
    result.topology.initializedAt = old.initializedAt;
  }
  await fleet.put(TOPOLOGY_KEY, JSON.stringify(result.topology));
  return result;
}

export async function readTopology(nc: NatsConnection): Promise<Topology> {
  const kvm = new Kvm(nc);
  let topology: Topology | null = null;
  try {
    const fleet = await kvm.open(FLEET_BUCKET, { bindOnly: true });
    const entry = await fleet.get(TOPOLOGY_KEY);
    if (entry?.operation === "PUT") topology = entry.json<Topology>();
  } catch {
    // No bucket: not initialised.
  }
  if (topology === null)
    throw new FleetError("the fleet is not set up on this server: run `threatlens fleet init`");
  return topology;
}

async function streamExists(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    await jsm.streams.info(name);
    return true;
  } catch {
    return false;
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<"created" | "updated" | "unchanged"> {
  let current: StreamConfig | null = null;
  try {
    current = (await jsm.streams.info(config.name)).config;
  } catch {
    current = null;
  }
  if (current === null) {
    await jsm.streams.add(config);
    return "created";
  }
  const differs = Object.entries(config).some(
    ([k, v]) => JSON.stringify((current as unknown as Record<string, unknown>)[k]) !== JSON.stringify(v),
  );
  if (!differs) return "unchanged";
  try {
    await jsm.streams.update(config.name, config);
  } catch (error) {
    throw new FleetError(`cannot update stream ${config.name}: ${(error as Error).message}`);
  }
  return "updated";
}

async function ensureConsumer(
  jsm: JetStreamManager,
  name: string,
  filter: string,
  limits: FleetLimits,
): Promise<"created" | "updated" | "unchanged"> {
  const config = {
    durable_name: name,
    filter_subject: filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(limits.ackWaitMs),
    max_ack_pending: 20_000,
    max_deliver: -1,
  };
  try {
    const info = await jsm.consumers.info(EVENTS_STREAM, name);
    if (info.config.ack_wait === config.ack_wait) return "unchanged";
    await jsm.consumers.update(EVENTS_STREAM, name, { ack_wait: config.ack_wait });
    return "updated";
  } catch (error) {
    if (!/not found/i.test((error as Error).message)) throw error;
  }
  await jsm.consumers.add(EVENTS_STREAM, config);
  return "created";
}

async function ensureBucket(
  jsm: JetStreamManager,
  kvm: Kvm,
  bucket: string,
  history: number,
  ttlMs: number,
): Promise<"created" | "unchanged"> {
  if (await streamExists(jsm, `KV_${bucket}`)) return "unchanged";
  await kvm.create(bucket, { history, ttl: ttlMs, storage: StorageType.File });
  return "created";
}

/**
 * Asks the server how it partitions: publishes probe messages on `tl.in.probe.<token>` (no stream keeps them) and
 * reads where the mapping sent them. Every probe must land on the partition FNV-1a predicts, for one partition count.
 */
async function probePartitions(nc: NatsConnection): Promise<number> {
  const tokens = Array.from({ length: 24 }, (_, i) => hostToken(`probe-host-${i}.example`));
  const seen = new Map<string, number>();
  const sub = nc.subscribe(`${EVENTS_PREFIX}.probe.*.*`);
  const done = (async () => {
    for await (const m of sub) {
      const [, , , partition, token] = m.subject.split(".");
      seen.set(token, Number(partition));
      if (seen.size === tokens.length) break;
    }
  })();
  for (const t of tokens) nc.publish(`${INGEST_PREFIX}.probe.${t}`, "");
  await nc.flush();
  await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
  sub.unsubscribe();
  if (seen.size === 0) {
    throw new FleetError(
      "the NATS server does not partition threatlens subjects: start it with the configuration printed by `threatlens fleet server-config` (its `mappings` block)",
    );
  }
  const top = Math.max(...seen.values());
  for (let n = top + 1; n <= 1024; n++) {
    if ([...seen].every(([t, p]) => partitionOf(t, n) === p)) return n;
  }
  throw new FleetError(
    "the server's threatlens subject mapping does not use partition(N, 2) over the host token as `fleet server-config` writes it",
  );
}
