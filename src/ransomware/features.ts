import { BloomFilter } from "../core/bloom.ts";
import { DistinctCounter, type DistinctCounterJSON, FNV_OFFSET, FNV_PRIME } from "../core/distinct.ts";
import { EVENT_TYPE_LETTERS, type FileEvent, formatTimestamp } from "./events.ts";

/**
 * Per-process features of the ransomware detector, computed in one streaming pass. State is a fixed amount per
 * process (counters, the current window, two bounded distinct counters and the last few opened paths), so memory
 * grows with the number of processes, never with the number of events. The schema is fixed by this module: every
 * column exists whatever the input contains. docs/ransomware.md defines each feature.
 */

export const DEFAULT_WINDOW_MS = 1000;

/** The 64 event-type trigrams in type order (O, C, D, E), named like the original pipeline's columns ("OCD"). */
export const TRIGRAMS: string[] = [];
for (const a of EVENT_TYPE_LETTERS)
  for (const b of EVENT_TYPE_LETTERS) for (const c of EVENT_TYPE_LETTERS) TRIGRAMS.push(a + b + c);

/**
 * Named behaviours, each a small automaton over the process's event types that counts non-overlapping matches.
 * `ocd`: open, create, delete in a row. `oced`: open, create, encrypt, delete. `ocend`: open, create, one or more
 * encrypts, delete. `ddd`: three deletes in a row. `batch_X`: a run of at least BATCH_RUN consecutive events of type X
 * counts once, when the run reaches that length.
 */
export const BEHAVIOURS = [
  "ocd",
  "oced",
  "ocend",
  "ddd",
  "batch_O",
  "batch_C",
  "batch_D",
  "batch_E",
] as const;
export const BATCH_RUN = 4;

/** Path prefixes of the operating system and its configuration (the list plus binaries and libraries). */
export const SYSTEM_PREFIXES = [
  "/etc/",
  "/var/",
  "/usr/",
  "/sys/",
  "/boot/",
  "/root/",
  "/bin/",
  "/sbin/",
  "/lib/",
  "/lib32/",
  "/lib64/",
  "/opt/",
  "/snap/",
];
/** Path prefixes where users keep data: what ransomware is after. */
export const USER_DATA_PREFIXES = ["/home/", "/mnt/", "/media/", "/srv/"];

const SYSTEM = 1;
const USER_DATA = 2;
/** Prefixes indexed by their second byte, so classifying a path costs one or two comparisons. */
const PREFIXES_BY_SECOND_BYTE: { bytes: Uint8Array; area: number }[][] = Array.from(
  { length: 256 },
  () => [],
);
for (const [list, area] of [
  [SYSTEM_PREFIXES, SYSTEM],
  [USER_DATA_PREFIXES, USER_DATA],
] as const) {
  for (const prefix of list) {
    PREFIXES_BY_SECOND_BYTE[prefix.charCodeAt(1)].push({ bytes: new TextEncoder().encode(prefix), area });
  }
}

/** Recently opened paths remembered per process, to spot "open a.doc, then create a.doc.locked". */
const RECENT_OPENS = 8;
/**
 * Bits of the filter of paths a process created (1 KiB, allocated at its first create): its deletes of other paths
 * destroy files that existed before it. Past ~1,000 creates a foreign delete is sometimes taken for one of its own
 * (5 %), which only undercounts, and such a process has long passed MIN_CREATED_FOR_HARM anyway.
 */
const CREATED_FILTER_BITS = 8192;
/** unlinkat's flag for removing a directory: that destroys no document. */
const AT_REMOVEDIR = 0x200;
/** O_TRUNC in open flags: a create that empties an existing file. */
const O_TRUNC = 0o1000;

// Quantities tracked per time window (count in the current window, maximum over windows).
const WIN_TYPE = 0; // 4 event types
const WIN_PATTERN = 4;
const WIN_BEHAVIOUR = 5; // 8 behaviours
const WINDOWED = 5 + BEHAVIOURS.length;

export const FEATURE_NAMES: string[] = [
  ...EVENT_TYPE_LETTERS.flatMap((t) => [`${t}_sum`, `${t}_max`, `${t}_mean`, `${t}_rate`]),
  "P_sum",
  "P_max",
  ...TRIGRAMS,
  ...BEHAVIOURS.flatMap((b) => [`B_${b}_sum`, `B_${b}_max`]),
  "S_open",
  "S_create_delete",
  "U_open",
  "U_create_delete",
  "N_files",
  "N_dirs",
  "N_create_dirs",
  "X_ext_append",
  "events",
  "duration_s",
  "windows_active",
  // Shapes rather than amounts: they mean the same after 40 events as after 40,000, which is what a live detector
  // needs when it scores a process early in its life.
  ...EVENT_TYPE_LETTERS.map((t) => `${t}_share`),
  "X_ext_append_share",
  "U_modify_share",
  "D_opened_share",
  "files_per_dir",
  "events_per_file",
  // Opens for writing without O_CREAT (the collector's FLAGS column; 0 in logs without it): in-place rewriting.
  "W_open",
  "W_open_share",
  "U_write_open",
  // Files that existed before the process and are gone or rewritten: deletes of paths it did not create, and
  // creates that truncate or rename over a path it had opened. Own temporary files do not count.
  "D_foreign",
  "R_overwrite",
  // Creates and deletes of files named as compressed data (FILE.gz, FILE.xz, …): `gzip -r` replaces every file of a
  // tree exactly as ransomware writing FILE.locked does (and `gunzip -r` as a decryptor would), and the compressed
  // name is the one thing the events tell apart.
  "X_compressed_share",
];

/**
 * A process shows harm once it has destroyed MIN_DESTROYED_FOR_HARM files that existed before it (deleted them,
 * truncated or replaced them, or opened user data for writing) or created MIN_CREATED_FOR_HARM files (some ransomware
 * writes encrypted copies by the thousand and deletes nothing). Until then it does not look like ransomware to
 * anyone: a compiler's temporary files, one `gzip` of one log, a process's first events. Training learns ransomware
 * rows only once they show harm, and a model with a harm gate scores a process below its threshold until then.
 */
export const MIN_DESTROYED_FOR_HARM = 3;
export const MIN_CREATED_FOR_HARM = 100;

export interface HarmGate {
  minDestroyed: number;
  minCreated: number;
}
export const HARM_GATE: HarmGate = { minDestroyed: MIN_DESTROYED_FOR_HARM, minCreated: MIN_CREATED_FOR_HARM };
/** The columns the gate reads: feature rows without them (tables from older versions) cannot be gated. */
export const HARM_FEATURES = ["D_foreign", "R_overwrite", "U_write_open", "C_sum"];
const HARM_COLUMNS = HARM_FEATURES.map((n) => FEATURE_NAMES.indexOf(n));

/** How far below the threshold a gated score stays: it must not read as a tie with the threshold. */
export const GATED_MARGIN = 1e-3;

/** A score as the gate lets it through: below `threshold` while the row shows no harm. */
export function gatedScore(
  score: number,
  values: ArrayLike<number>,
  threshold: number,
  gate: HarmGate = HARM_GATE,
): number {
  return score < threshold - GATED_MARGIN || showsHarm(values, gate) ? score : threshold - GATED_MARGIN;
}

/** Whether a feature row (FEATURE_NAMES order) shows harm. */
export function showsHarm(values: ArrayLike<number>, gate: HarmGate = HARM_GATE): boolean {
  const [foreign, overwrite, writeOpen, creates] = HARM_COLUMNS;
  return (
    values[foreign] + values[overwrite] + values[writeOpen] >= gate.minDestroyed ||
    values[creates] >= gate.minCreated
  );
}

/** A row's identity across feature tables and live scoring: its process or group, and when it began. */
export function rowKey(log: string, pid: number, firstTs: string, generation: number): string {
  return `${log}\0${pid}\0${firstTs}${generation === 0 ? "" : generation === 1 ? "\0children" : "\0grandchildren"}`;
}

export interface ProcessFeatures {
  log: string;
  pid: number;
  firstTs: string;
  lastTs: string;
  values: Float64Array;
  /** A snapshot of the process part-way through its life (training for live scoring), not its whole life. */
  snapshot?: boolean;
  /** The row is the children of process `pid` taken together (the collector's logs name parents); their pids. */
  children?: number[];
  /** With `children`: 2 when they are `pid`'s grandchildren (a shell per file between a loop and its tools). */
  generation?: number;
  /** A feature table without the columns the harm gate reads (older versions, the original pipeline's tables). */
  ungated?: boolean;
}

/**
 * One process's features, updated one event at a time: the incremental code that batch feature tables and live
 * scoring share. State is a fixed amount (counters, the current window, three bounded distinct counters, hashes of
 * the last few opened paths).
 */
export class ProcessFeatureState {
  readonly typeTotals = new Float64Array(4);
  readonly trigrams = new Float64Array(64);
  readonly behaviourTotals = new Float64Array(BEHAVIOURS.length);
  readonly windowCounts = new Float64Array(WINDOWED);
  readonly windowMax = new Float64Array(WINDOWED);
  patternTotal = 0;
  events = 0;
  firstSec: number;
  firstNsec: number;
  lastDeltaNs = 0;
  window = 0;
  windowsActive = 1;
  /** The last two event types, -1 when absent. */
  prev1 = -1;
  prev2 = -1;
  /** Automaton states for ocd / oced / ocend, the delete run and the current same-type run. */
  ocdState = 0;
  ocedState = 0;
  ocendState = 0;
  deleteRun = 0;
  runType = -1;
  runLength = 0;
  systemOpen = 0;
  systemModify = 0;
  userOpen = 0;
  userModify = 0;
  extAppend = 0;
  /** Creates and deletes of names that end in a compressed-data extension. */
  compressedModifies = 0;
  /** Deletes of a path the process opened shortly before (read it, then remove it). */
  deleteOpened = 0;
  /** Opens with write access (O_WRONLY or O_RDWR), and those of user data. */
  writeOpens = 0;
  userWriteOpens = 0;
  /** Deletes of paths the process did not create; creates that truncate or replace a path it opened. */
  foreignDeletes = 0;
  overwrites = 0;
  created: BloomFilter | null = null;
  files = new DistinctCounter();
  dirs = new DistinctCounter();
  createDirs = new DistinctCounter();
  /** Hash and byte length of the last RECENT_OPENS opened paths (hashes, not strings: no retained buffers). */
  readonly recentOpenHashes = new Uint32Array(RECENT_OPENS);
  readonly recentOpenLengths = new Int32Array(RECENT_OPENS).fill(-1);
  recentNext = 0;

  constructor(
    sec: number,
    nsec: number,
    /** Window length in ns (the same for every process of a run). */
    readonly windowNs: number,
  ) {
    this.firstSec = sec;
    this.firstNsec = nsec;
  }

  /**
   * Applies one file event (types 0–3). `facts` are its path's hashes and classes when the caller has them (the
   * detector computes them once for a process and its groups); without them they are computed here.
   */
  add(e: FileEvent, facts?: PathFacts): void {
    const type = e.type;
    // Exact nanoseconds since the process's first event (exact in a double for 104 days).
    let delta = (e.tsSec - this.firstSec) * 1e9 + (e.tsNsec - this.firstNsec);
    // Out-of-order rows (rare in real logs) count in the current window: state stays bounded and monotone.
    if (delta < this.lastDeltaNs) delta = this.lastDeltaNs;
    this.lastDeltaNs = delta;
    const window = Math.floor(delta / this.windowNs);
    if (window !== this.window) {
      this.closeWindow();
      this.window = window;
      this.windowsActive++;
    }
    this.events++;
    this.typeTotals[type]++;
    this.windowCounts[WIN_TYPE + type]++;
    if (e.pattern > 0) {
      this.patternTotal++;
      this.windowCounts[WIN_PATTERN]++;
    }
    if (this.prev2 >= 0) this.trigrams[this.prev2 * 16 + this.prev1 * 4 + type]++;
    this.prev2 = this.prev1;
    this.prev1 = type;
    this.updateBehaviours(type);
    if (type !== 3) this.updatePaths(e, facts ?? SCRATCH_FACTS.of(e));
  }

  private updateBehaviours(type: number): void {
    const O = 0;
    const C = 1;
    const D = 2;
    const E = 3;
    // ocd: O → C → D
    if (this.ocdState === 2 && type === D) {
      this.match(0);
      this.ocdState = 0;
    } else this.ocdState = this.ocdState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // oced: O → C → E → D
    if (this.ocedState === 3 && type === D) {
      this.match(1);
      this.ocedState = 0;
    } else if (this.ocedState === 2 && type === E) this.ocedState = 3;
    else this.ocedState = this.ocedState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // ocend: O → C → E+ → D
    if (this.ocendState === 3 && type === D) {
      this.match(2);
      this.ocendState = 0;
    } else if ((this.ocendState === 2 || this.ocendState === 3) && type === E) this.ocendState = 3;
    else this.ocendState = this.ocendState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // ddd: non-overlapping triples of consecutive deletes
    if (type === D) {
      if (++this.deleteRun === 3) {
        this.match(3);
        this.deleteRun = 0;
      }
    } else this.deleteRun = 0;
    // batch runs
    if (type === this.runType) this.runLength++;
    else {
      this.runType = type;
      this.runLength = 1;
    }
    if (this.runLength === BATCH_RUN) this.match(4 + type);
  }

  private match(behaviour: number): void {
    this.behaviourTotals[behaviour]++;
    this.windowCounts[WIN_BEHAVIOUR + behaviour]++;
  }

  private updatePaths(e: FileEvent, f: PathFacts): void {
    const { start, end, area, fileHash, dirHash } = f;
    const modify = e.type === 1 || e.type === 2;
    if (e.type === 0 && (e.flags & 3) !== 0) {
      this.writeOpens++;
      if (area === USER_DATA) this.userWriteOpens++;
    }
    if (area === SYSTEM) {
      if (modify) this.systemModify++;
      else this.systemOpen++;
    } else if (area === USER_DATA) {
      if (modify) this.userModify++;
      else this.userOpen++;
    }
    const isCreate = e.type === 1;
    if (modify && f.compressed) this.compressedModifies++;
    if (e.type === 2) {
      if (this.isRecentOpen(fileHash, end - start)) this.deleteOpened++;
      if (this.destroys(e, f)) this.foreignDeletes++;
    } else if (isCreate) {
      const created = (this.created ??= new BloomFilter(CREATED_FILTER_BITS));
      // A path it created before is its own file rewritten (gpg creates its keyring, then writes it again).
      if (
        (e.rename || (e.flags & O_TRUNC) !== 0) &&
        this.isRecentOpen(fileHash, end - start) &&
        !created.has(fileHash)
      )
        this.overwrites++;
      created.add(fileHash);
      // `rm -rf DIR` unlinks by names relative to the directory it walks: its own files are known by base name too.
      if (f.hasBaseHash) created.add(f.baseHash);
    }
    this.files.add(fileHash);
    if (dirHash >= 0) this.dirs.add(dirHash);
    if (isCreate) {
      if (dirHash >= 0) this.createDirs.add(dirHash);
      // A create extends a recently opened path when a prefix ending before '.', '_' or '~' was opened
      // ("a.doc" then "a.doc.locked").
      for (let k = 0; k < f.prefixes; k++) {
        if (this.isRecentOpen(f.prefixHashes[k], f.prefixLengths[k])) {
          this.extAppend++;
          break;
        }
      }
    } else if (e.type === 0 && end > start && !f.loaderNoise) {
      // Libraries and configuration are not what a process reads to replace: a process per file (`openssl` then
      // `mv`) would push the document out of a group's few recent opens with the next tool's loader.
      this.recentOpenHashes[this.recentNext] = fileHash;
      this.recentOpenLengths[this.recentNext] = end - start;
      this.recentNext = (this.recentNext + 1) % RECENT_OPENS;
    }
  }

  /**
   * Whether a delete destroyed a file that existed before the process: not when the call failed, removed a
   * directory, or removed a path the process created (matched by base name when the path is relative).
   */
  private destroys(e: FileEvent, f: PathFacts): boolean {
    if (e.failed || (!e.rename && (e.flags & AT_REMOVEDIR) !== 0)) return false;
    const created = this.created;
    if (created === null) return true;
    if (created.has(f.fileHash)) return false;
    return !(f.hasBaseHash && created.has(f.baseHash));
  }

  /** Files this state has seen destroyed: deleted though they existed before, overwritten, or opened for writing. */
  destroyed(): number {
    return this.foreignDeletes + this.overwrites + this.userWriteOpens;
  }

  private isRecentOpen(prefixHash: number, prefixLength: number): boolean {
    for (let k = 0; k < RECENT_OPENS; k++) {
      if (this.recentOpenLengths[k] === prefixLength && this.recentOpenHashes[k] === prefixHash) return true;
    }
    return false;
  }

  private closeWindow(): void {
    for (let k = 0; k < WINDOWED; k++) {
      if (this.windowCounts[k] > this.windowMax[k]) this.windowMax[k] = this.windowCounts[k];
      this.windowCounts[k] = 0;
    }
  }

  /** The feature vector in FEATURE_NAMES order, written into `out`. */
  write(out: Float64Array): Float64Array {
    const lifetimeNs = Math.max(this.lastDeltaNs, this.windowNs);
    let k = 0;
    for (let t = 0; t < 4; t++) {
      out[k++] = this.typeTotals[t];
      out[k++] = this.windowPeak(WIN_TYPE + t);
      out[k++] = this.typeTotals[t] / this.windowsActive;
      out[k++] = (this.typeTotals[t] * 60e9) / lifetimeNs;
    }
    out[k++] = this.patternTotal;
    out[k++] = this.windowPeak(WIN_PATTERN);
    for (let g = 0; g < 64; g++) out[k++] = this.trigrams[g];
    for (let b = 0; b < BEHAVIOURS.length; b++) {
      out[k++] = this.behaviourTotals[b];
      out[k++] = this.windowPeak(WIN_BEHAVIOUR + b);
    }
    out[k++] = this.systemOpen;
    out[k++] = this.systemModify;
    out[k++] = this.userOpen;
    out[k++] = this.userModify;
    out[k++] = this.files.count;
    out[k++] = this.dirs.count;
    out[k++] = this.createDirs.count;
    out[k++] = this.extAppend;
    out[k++] = this.events;
    out[k++] = this.lastDeltaNs / 1e9;
    out[k++] = this.windowsActive;
    const events = Math.max(1, this.events);
    for (let t = 0; t < 4; t++) out[k++] = this.typeTotals[t] / events;
    const creates = this.typeTotals[1];
    const deletes = this.typeTotals[2];
    out[k++] = this.extAppend / Math.max(1, creates);
    out[k++] = this.userModify / Math.max(1, creates + deletes);
    out[k++] = this.deleteOpened / Math.max(1, deletes);
    const files = this.files.count;
    out[k++] = files / Math.max(1, this.dirs.count);
    out[k++] = this.events / Math.max(1, files);
    out[k++] = this.writeOpens;
    out[k++] = this.writeOpens / Math.max(1, this.typeTotals[0]);
    out[k++] = this.userWriteOpens;
    out[k++] = this.foreignDeletes;
    out[k++] = this.overwrites;
    out[k++] = this.compressedModifies / Math.max(1, creates + deletes);
    return out;
  }

  private windowPeak(k: number): number {
    return this.windowCounts[k] > this.windowMax[k] ? this.windowCounts[k] : this.windowMax[k];
  }

  /** Exact TS of the first and last event. */
  firstTs(): string {
    return formatTimestamp(this.firstSec, this.firstNsec);
  }

  lastTs(): string {
    const lastTotal = this.firstNsec + this.lastDeltaNs;
    return formatTimestamp(this.firstSec + Math.floor(lastTotal / 1e9), lastTotal % 1e9);
  }

  /** The state as JSON-safe data (checkpoints); `ProcessFeatureState.fromJSON` restores it exactly. */
  toJSON(): ProcessFeatureStateJSON {
    return {
      first: [this.firstSec, this.firstNsec],
      counters: [
        this.patternTotal,
        this.events,
        this.lastDeltaNs,
        this.window,
        this.windowsActive,
        this.prev1,
        this.prev2,
        this.ocdState,
        this.ocedState,
        this.ocendState,
        this.deleteRun,
        this.runType,
        this.runLength,
        this.systemOpen,
        this.systemModify,
        this.userOpen,
        this.userModify,
        this.extAppend,
        this.recentNext,
        this.deleteOpened,
        this.writeOpens,
        this.userWriteOpens,
        this.foreignDeletes,
        this.overwrites,
        this.compressedModifies,
      ],
      typeTotals: Array.from(this.typeTotals),
      trigrams: Array.from(this.trigrams),
      behaviourTotals: Array.from(this.behaviourTotals),
      windowCounts: Array.from(this.windowCounts),
      windowMax: Array.from(this.windowMax),
      recentOpenHashes: Array.from(this.recentOpenHashes),
      recentOpenLengths: Array.from(this.recentOpenLengths),
      files: this.files.toJSON(),
      dirs: this.dirs.toJSON(),
      createDirs: this.createDirs.toJSON(),
      ...(this.created ? { created: this.created.toJSON() } : {}),
    };
  }

  static fromJSON(json: ProcessFeatureStateJSON, windowNs: number): ProcessFeatureState {
    const s = new ProcessFeatureState(json.first[0], json.first[1], windowNs);
    [
      s.patternTotal,
      s.events,
      s.lastDeltaNs,
      s.window,
      s.windowsActive,
      s.prev1,
      s.prev2,
      s.ocdState,
      s.ocedState,
      s.ocendState,
      s.deleteRun,
      s.runType,
      s.runLength,
      s.systemOpen,
      s.systemModify,
      s.userOpen,
      s.userModify,
      s.extAppend,
      s.recentNext,
      s.deleteOpened,
      s.writeOpens,
      s.userWriteOpens,
      s.foreignDeletes = 0,
      s.overwrites = 0,
      s.compressedModifies = 0,
    ] = json.counters;
    s.typeTotals.set(json.typeTotals);
    s.trigrams.set(json.trigrams);
    s.behaviourTotals.set(json.behaviourTotals);
    s.windowCounts.set(json.windowCounts);
    s.windowMax.set(json.windowMax);
    s.recentOpenHashes.set(json.recentOpenHashes);
    s.recentOpenLengths.set(json.recentOpenLengths);
    s.files = DistinctCounter.fromJSON(json.files);
    s.dirs = DistinctCounter.fromJSON(json.dirs);
    s.createDirs = DistinctCounter.fromJSON(json.createDirs);
    if (json.created !== undefined) s.created = BloomFilter.fromJSON(json.created);
    return s;
  }
}

export interface ProcessFeatureStateJSON {
  first: [number, number];
  counters: number[];
  typeTotals: number[];
  trigrams: number[];
  behaviourTotals: number[];
  windowCounts: number[];
  windowMax: number[];
  recentOpenHashes: number[];
  recentOpenLengths: number[];
  files: DistinctCounterJSON;
  dirs: DistinctCounterJSON;
  createDirs: DistinctCounterJSON;
  /** Checkpoints from before the filter existed have none. */
  created?: string;
}

function areaOf(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 2 || bytes[start] !== 47) return 0;
  for (const candidate of PREFIXES_BY_SECOND_BYTE[bytes[start + 1]]) {
    const p = candidate.bytes;
    if (end - start < p.length) continue;
    let k = 2;
    while (k < p.length && bytes[start + k] === p[k]) k++;
    if (k === p.length) return candidate.area;
  }
  return 0;
}

/**
 * What the path features need from an event's path, computed once per event however many entities (a process, its
 * parent's and grandparent's groups) take it: its span, area, hashes and the prefixes a create may extend.
 */
export class PathFacts {
  start = 0;
  end = 0;
  area = 0;
  /** FNV-1a of the directory part (-1 without a slash) and of the whole path. */
  dirHash = -1;
  fileHash = 0;
  /** FNV-1a of the base name: for creates, and for deletes of relative paths with a directory part. */
  hasBaseHash = false;
  baseHash = 0;
  compressed = false;
  /** Under /usr, /lib*, /etc, /proc, /sys or /dev: what a program's loader and libraries open, not documents. */
  loaderNoise = false;
  /** Creates: hashes and lengths of the path's prefixes ending before '.', '_' or '~' ("a.doc" of "a.doc.locked"). */
  prefixes = 0;
  readonly prefixHashes = new Uint32Array(MAX_PREFIXES);
  readonly prefixLengths = new Int32Array(MAX_PREFIXES);

  of(e: FileEvent): this {
    const bytes = e.bytes;
    let start = e.nameStart;
    const end = e.nameEnd;
    // "//sys/fs/..." occurs in real logs: fold repeated leading slashes.
    while (start + 1 < end && bytes[start] === 47 && bytes[start + 1] === 47) start++;
    this.start = start;
    this.end = end;
    this.area = areaOf(bytes, start, end);
    this.loaderNoise = e.type === 0 && startsWithAny(bytes, start, end, LOADER_PREFIXES);
    // Hash the directory part, remember that hash, then continue over the file name: one pass, two hashes.
    let slash = end - 1;
    while (slash >= start && bytes[slash] !== 47) slash--;
    let h = FNV_OFFSET;
    for (let i = start; i < slash; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
    this.dirHash = slash >= start ? h >>> 0 : -1;
    const isCreate = e.type === 1;
    let prefixes = 0;
    for (let i = slash < start ? start : slash; i < end; i++) {
      const c = bytes[i];
      if (isCreate && (c === 46 || c === 95 || c === 126) && i + 1 < end && prefixes < MAX_PREFIXES) {
        this.prefixHashes[prefixes] = h >>> 0;
        this.prefixLengths[prefixes++] = i - start;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    this.prefixes = prefixes;
    this.fileHash = h >>> 0;
    const nameStart = slash < start ? start : slash + 1;
    const relative = end > start && bytes[start] !== 47;
    this.hasBaseHash = slash >= start && (isCreate || (e.type === 2 && relative));
    if (this.hasBaseHash) this.baseHash = nameHash(bytes, nameStart, end);
    this.compressed = (isCreate || e.type === 2) && isCompressedName(bytes, nameStart, end);
    return this;
  }
}

const LOADER_PREFIXES = ["/usr/", "/lib/", "/lib32/", "/lib64/", "/etc/", "/proc/", "/sys/", "/dev/"].map(
  (p) => new TextEncoder().encode(p),
);

function startsWithAny(
  bytes: Uint8Array,
  start: number,
  end: number,
  prefixes: readonly Uint8Array[],
): boolean {
  if (end - start < 2 || bytes[start] !== 47) return false;
  for (const p of prefixes) {
    if (end - start < p.length || bytes[start + 1] !== p[1]) continue;
    let k = 2;
    while (k < p.length && bytes[start + k] === p[k]) k++;
    if (k === p.length) return true;
  }
  return false;
}

/** At most this many '.', '_' or '~' prefixes of a created name are checked against recent opens. */
const MAX_PREFIXES = 16;
const SCRATCH_FACTS = new PathFacts();

/** FNV-1a of a path's base name (the bytes after its last slash), as the full-path hash is computed. */
function nameHash(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

/** Extensions of compressed data, as compressors name their output (lower case, without the dot). */
const COMPRESSED_EXTENSIONS = [
  "gz",
  "tgz",
  "bz2",
  "tbz2",
  "xz",
  "txz",
  "zst",
  "lz4",
  "lzma",
  "lz",
  "z",
  "zip",
  "7z",
  "rar",
];
/** The extensions as bytes, by length (at most 4), for a check that allocates nothing. */
const COMPRESSED_BY_LENGTH: Uint8Array[][] = [[], [], [], [], []];
for (const ext of COMPRESSED_EXTENSIONS) COMPRESSED_BY_LENGTH[ext.length].push(new TextEncoder().encode(ext));

/** Whether the file name `bytes[start, end)` ends in a compressed-data extension. */
function isCompressedName(bytes: Uint8Array, start: number, end: number): boolean {
  let dot = end - 1;
  while (dot > start && end - dot <= 5 && bytes[dot] !== 46) dot--;
  const length = end - dot - 1;
  if (dot <= start || bytes[dot] !== 46 || length < 1 || length >= COMPRESSED_BY_LENGTH.length) return false;
  const candidates = COMPRESSED_BY_LENGTH[length];
  for (const ext of candidates) {
    let k = 0;
    while (k < ext.length && (bytes[dot + 1 + k] | 0x20) === ext[k]) k++;
    if (k === ext.length) return true;
  }
  return false;
}
