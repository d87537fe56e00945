import { basename } from "node:path";
import type { AlertSubject, Detector, EntityHooks } from "../core/stream/detector.ts";
import { Entity } from "../core/stream/detector.ts";
import type { ScoringSchedule } from "../core/stream/engine.ts";
import { EntityTable } from "../core/stream/entities.ts";
import { EventType, eventComm, eventFilename, type FileEvent, formatTimestamp } from "./events.ts";
import {
  DEFAULT_WINDOW_MS,
  FEATURE_NAMES,
  PathFacts,
  ProcessFeatureState,
  type ProcessFeatureStateJSON,
} from "./features.ts";

/**
 * The ransomware detector as the streaming engine sees it. Entities are processes, identified by (log, PID), and —
 * when the log names parents (the collector's extended layout) — the children of one parent taken together, because
 * ransomware that runs one short process per file (`openssl enc` in a shell loop) looks harmless one process at a
 * time. A process ends at its exit row, when idle for `idleTimeoutS` of event time, or at the end of its log.
 */
export interface RansomwareDetectorOptions {
  windowMs?: number;
  /** A process without events for this long (event time, seconds) is over; its PID starts a new process. */
  idleTimeoutS?: number;
  /** Track the children of each parent as one more entity (extended logs only). Default true. */
  groupChildren?: boolean;
}

/**
 * When the live detector scores a process: once it has 8 events, then after every 8 more or every 100 ms of event
 * time. A process that encrypts a file costs 3–4 events (open, create, encrypt, delete), so a score is at most about
 * two files old; linear scoring costs ~1 µs, so this keeps up with hundreds of thousands of events per second.
 */
export const RANSOMWARE_SCHEDULE: ScoringSchedule = { minEvents: 8, everyEvents: 8, everyNs: 100e6 };
const GROUP_SCORE_EVERY = 64;

/** Longest quiet stretch inside one process of the shared logs is 214 s: 10 minutes keeps real processes whole. */
export const DEFAULT_IDLE_TIMEOUT_S = 600;
const RECENT_PATHS = 8;
const MAX_CHILDREN = 256;
const MAX_PARENTS = 4;
const KEY_SPACE = 2 ** 32;
/** Keys of one log: processes, groups of children, groups of grandchildren. */
const KEY_SPACES = 3;
/** Parents whose children are unrelated services, never one job: init and kthreadd. */
const NO_GROUP_PARENTS = new Set([0, 1, 2]);

export class ProcessEntity extends Entity {
  comm = "";
  ppid = -1;
  renames = 0;
  /** Command names of the children seen (group entities), at most a few. */
  readonly childComms = new Set<string>();
  /** Parents of the members seen (groups of grandchildren), at most a few: one parent means the group is that
   * parent's children, already tracked. */
  readonly parents = new Set<number>();
  /** Members whose events destroyed files (`ProcessFeatureState.destroyed`), at most 2. A group whose destruction is
   * one member's would only repeat that member's alert, and one that only creates files is a build or an unpacking
   * spread over processes: groups are scored once two members have destroyed files. */
  readonly harmMembers = new Set<number>();
  /** Process ids of the children seen (group entities), at most MAX_CHILDREN: labels name processes. */
  readonly children = new Set<number>();
  /** Paths of the latest creates and deletes (evidence), oldest first once the ring is full. */
  readonly recentPaths: string[] = [];
  private recentNext = 0;

  constructor(
    readonly key: number,
    readonly log: string,
    readonly pid: number,
    /** 0: the process `pid`; 1: its children taken together; 2: its grandchildren taken together. */
    readonly generation: number,
    readonly state: ProcessFeatureState,
  ) {
    super();
  }

  /** Several processes taken together. */
  get group(): boolean {
    return this.generation > 0;
  }

  notePath(path: string): void {
    if (this.recentPaths.length < RECENT_PATHS) this.recentPaths.push(path);
    else {
      this.recentPaths[this.recentNext] = path;
      this.recentNext = (this.recentNext + 1) % RECENT_PATHS;
    }
  }

  orderedRecentPaths(): string[] {
    return [...this.recentPaths.slice(this.recentNext), ...this.recentPaths.slice(0, this.recentNext)];
  }
}

const SCOPES = ["process", "children", "grandchildren"] as const;

export class RansomwareDetector implements Detector<FileEvent, ProcessEntity> {
  readonly kind = "ransomware" as const;
  readonly windowNs: number;
  readonly idleNs: number;
  private readonly groupChildren: boolean;
  private readonly table = new EntityTable<ProcessEntity>();
  private readonly buffer = new Float64Array(FEATURE_NAMES.length);
  /** The current event's path facts, shared by the process and its groups. */
  private readonly facts = new PathFacts();
  private logIndex = -1;
  private logName = "";

  constructor(options: RansomwareDetectorOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`window must be > 0 ms`);
    this.windowNs = windowMs * 1e6;
    const idle = options.idleTimeoutS ?? DEFAULT_IDLE_TIMEOUT_S;
    if (!(idle > 0)) throw new RangeError("the idle timeout must be > 0 s");
    this.idleNs = idle * 1e9;
    this.groupChildren = options.groupChildren ?? true;
  }

  get activeEntities(): number {
    return this.table.size;
  }

  beginSource(name: string): void {
    const log = basename(name);
    if (log === this.logName && this.logIndex >= 0) return;
    this.logIndex++;
    this.logName = log;
  }

  time(e: FileEvent): number {
    return e.tsSec * 1e9 + e.tsNsec;
  }

  timeText(e: FileEvent): string {
    return formatTimestamp(e.tsSec, e.tsNsec);
  }

  observe(e: FileEvent, hooks: EntityHooks<ProcessEntity>): void {
    if (this.logIndex < 0) this.beginSource("input");
    const type = e.type;
    const base = this.logIndex * KEY_SPACES * KEY_SPACE;
    if (type > EventType.Encrypt) {
      this.lifecycle(e, base, hooks);
      return;
    }
    const process = this.entity(base + e.pid, e.pid, 0, e);
    const first = process.events === 0;
    if (type !== EventType.Encrypt) this.facts.of(e);
    // Decoded once for the process and its groups (evidence: the recent paths).
    const path = e.type === EventType.Create || e.type === EventType.Delete ? eventFilename(e) : null;
    this.apply(process, e, path);
    hooks.touched(process);
    if (!this.groupChildren || e.ppid < 0 || NO_GROUP_PARENTS.has(e.ppid)) return;
    this.join(base + KEY_SPACE + e.ppid, e.ppid, 1, process, first, e, path, hooks);
    // The grandparent, as far as the parent's own events told it: `find -exec sh -c 'gpg … && rm …'` runs each
    // file's tools under a shell of their own, so only the grandparent sees the whole job.
    const grandparent = this.table.get(base + e.ppid)?.ppid ?? -1;
    if (grandparent >= 0 && !NO_GROUP_PARENTS.has(grandparent)) {
      this.join(base + 2 * KEY_SPACE + grandparent, grandparent, 2, process, first, e, path, hooks);
    }
  }

  /** Adds one event of `process` to the group of `pid`'s children or grandchildren. */
  private join(
    key: number,
    pid: number,
    generation: number,
    process: ProcessEntity,
    first: boolean,
    e: FileEvent,
    path: string | null,
    hooks: EntityHooks<ProcessEntity>,
  ): void {
    const group = this.entity(key, pid, generation, e);
    // A member's name at its first event (and at exec, below): decoding it at every event was a tenth of the cost.
    if (first && process.comm && group.childComms.size < 8) group.childComms.add(process.comm);
    if (group.children.size < MAX_CHILDREN) group.children.add(process.pid);
    if (generation === 2 && group.parents.size < MAX_PARENTS) group.parents.add(e.ppid);
    const destroyedBefore = group.state.destroyed();
    this.apply(group, e, path);
    if (group.harmMembers.size < 2 && group.state.destroyed() > destroyedBefore)
      group.harmMembers.add(process.pid);
    hooks.touched(group);
  }

  private lifecycle(e: FileEvent, base: number, hooks: EntityHooks<ProcessEntity>): void {
    const key = base + e.pid;
    if (e.type === EventType.Exit) {
      this.table.end(key, "exit", hooks);
      return;
    }
    // exec: the process keeps its PID and its history; only the name it goes by changes.
    const process = this.table.get(key);
    if (process !== undefined) {
      process.comm = eventComm(e);
      if (e.ppid >= 0) process.ppid = e.ppid;
      if (!this.groupChildren || !process.comm) return;
      const grandparent = this.table.get(base + process.ppid)?.ppid ?? -1;
      for (const group of [
        this.table.get(base + KEY_SPACE + process.ppid),
        grandparent >= 0 ? this.table.get(base + 2 * KEY_SPACE + grandparent) : undefined,
      ]) {
        if (group !== undefined && group.childComms.size < 8) group.childComms.add(process.comm);
      }
    }
  }

  private entity(key: number, pid: number, generation: number, e: FileEvent): ProcessEntity {
    let entity = this.table.get(key);
    if (entity === undefined) {
      entity = new ProcessEntity(
        key,
        this.logName,
        pid,
        generation,
        new ProcessFeatureState(e.tsSec, e.tsNsec, this.windowNs),
      );
      if (generation === 0) {
        if (e.commEnd > e.commStart) entity.comm = eventComm(e);
        entity.ppid = e.ppid;
      }
      this.table.set(key, entity);
    }
    return entity;
  }

  private apply(entity: ProcessEntity, e: FileEvent, path: string | null): void {
    entity.state.add(e, this.facts);
    if (e.rename && e.type === EventType.Create) entity.renames++;
    if (path !== null) entity.notePath(path);
  }

  sweep(cutoff: number, hooks: EntityHooks<ProcessEntity>): void {
    this.table.sweep(cutoff, hooks);
  }

  drain(hooks: EntityHooks<ProcessEntity>): void {
    this.table.drain(hooks);
  }

  /**
   * A group takes every event of its children, so at the process cadence a busy parent's group (a build, a session
   * manager) would cost one SVM evaluation per 8 events of all its children. It exists to catch one process per
   * file, whose children each bring a handful of events to a few dozen: every 64 events is every file or two.
   */
  scoreEvery(entity: ProcessEntity): number | undefined {
    return entity.group ? GROUP_SCORE_EVERY : undefined;
  }

  /**
   * A group of one child has that child's events and features, grandchildren of one parent are that parent's
   * children, and a group whose destruction is one member's has that member's harm: their alerts would repeat another
   * entity's. Groups whose members only create files are not scored either (see `harmMembers`).
   */
  scorable(entity: ProcessEntity): boolean {
    if (entity.generation === 0) return true;
    return (
      entity.children.size >= 2 &&
      entity.harmMembers.size >= 2 &&
      (entity.generation === 1 || entity.parents.size >= 2)
    );
  }

  features(entity: ProcessEntity): Float64Array {
    return entity.state.write(this.buffer);
  }

  describe(entity: ProcessEntity): AlertSubject {
    const fields: Record<string, string | number> = { pid: entity.pid, log: entity.log };
    if (entity.group) {
      return {
        entity: `${entity.generation === 2 ? "grandchildren" : "children"} of pid ${entity.pid}${entity.log ? ` in ${entity.log}` : ""}`,
        fields: { ...fields, comm: [...entity.childComms].join(",") || "?" },
        pids: [entity.pid],
      };
    }
    if (entity.comm) fields.comm = entity.comm;
    if (entity.ppid >= 0) fields.ppid = entity.ppid;
    return {
      entity: `pid ${entity.pid}${entity.log ? ` in ${entity.log}` : ""}`,
      fields,
      pids: [entity.pid],
    };
  }

  evidence(entity: ProcessEntity): Record<string, unknown> {
    const s = entity.state;
    return {
      scope: SCOPES[entity.generation],
      events: s.events,
      opens: s.typeTotals[EventType.Open],
      creates: s.typeTotals[EventType.Create],
      deletes: s.typeTotals[EventType.Delete],
      encrypts: s.typeTotals[EventType.Encrypt],
      renames: entity.renames,
      distinctFiles: s.files.count,
      distinctDirs: s.dirs.count,
      extensionAppends: s.extAppend,
      userDataModified: s.userModify,
      durationS: Number((s.lastDeltaNs / 1e9).toFixed(3)),
      firstTs: s.firstTs(),
      recentPaths: entity.orderedRecentPaths(),
    };
  }

  snapshot(): RansomwareSnapshot {
    const entities: RansomwareSnapshot["entities"] = [];
    for (const [key, e] of this.table.entries()) {
      entities.push({
        key,
        log: e.log,
        pid: e.pid,
        generation: e.generation,
        comm: e.comm,
        ppid: e.ppid,
        renames: e.renames,
        childComms: [...e.childComms],
        children: [...e.children],
        parents: [...e.parents],
        harmMembers: [...e.harmMembers],
        recentPaths: e.orderedRecentPaths(),
        tracking: e.saveTracking(),
        state: e.state.toJSON(),
      });
    }
    return { logIndex: this.logIndex, logName: this.logName, entities };
  }

  restore(snapshot: unknown): void {
    const s = snapshot as RansomwareSnapshot;
    this.table.clear();
    this.logIndex = s.logIndex;
    this.logName = s.logName;
    for (const saved of s.entities) {
      const e = new ProcessEntity(
        saved.key,
        saved.log,
        saved.pid,
        saved.generation ?? (saved.group ? 1 : 0),
        ProcessFeatureState.fromJSON(saved.state, this.windowNs),
      );
      e.comm = saved.comm;
      e.ppid = saved.ppid;
      e.renames = saved.renames;
      for (const c of saved.childComms) e.childComms.add(c);
      for (const c of saved.children ?? []) e.children.add(c);
      for (const c of saved.parents ?? []) e.parents.add(c);
      for (const c of saved.harmMembers ?? []) e.harmMembers.add(c);
      for (const p of saved.recentPaths) e.notePath(p);
      e.restoreTracking(saved.tracking);
      this.table.set(saved.key, e);
    }
  }
}

export interface RansomwareSnapshot {
  logIndex: number;
  logName: string;
  entities: {
    key: number;
    log: string;
    pid: number;
    generation: number;
    /** Checkpoints written before groups of grandchildren. */
    group?: boolean;
    comm: string;
    ppid: number;
    renames: number;
    childComms: string[];
    children?: number[];
    parents?: number[];
    harmMembers?: number[];
    recentPaths: string[];
    tracking: ReturnType<Entity["saveTracking"]>;
    state: ProcessFeatureStateJSON;
  }[];
}
