import { DistinctCounter, FNV_OFFSET, FNV_PRIME } from "../core/distinct.ts";
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
];

export interface ProcessFeatures {
  log: string;
  pid: number;
  firstTs: string;
  lastTs: string;
  values: Float64Array;
}

class ProcessState {
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
  readonly files = new DistinctCounter();
  readonly dirs = new DistinctCounter();
  readonly createDirs = new DistinctCounter();
  /** Hash and byte length of the last RECENT_OPENS opened paths (hashes, not strings: no retained buffers). */
  readonly recentOpenHashes = new Uint32Array(RECENT_OPENS);
  readonly recentOpenLengths = new Int32Array(RECENT_OPENS).fill(-1);
  recentNext = 0;

  constructor(sec: number, nsec: number) {
    this.firstSec = sec;
    this.firstNsec = nsec;
  }
}

export interface FeatureExtractorOptions {
  windowMs?: number;
}

/**
 * Consumes events of one or more logs and yields one feature row per (log, PID). A process is identified by its
 * log and PID: PIDs are unique only within one log.
 */
export class FeatureExtractor {
  readonly windowNs: number;
  private readonly logs = new Map<string, Map<number, ProcessState>>();
  private currentLog = "";
  private current: Map<number, ProcessState> = new Map();
  private lastPid = -1;
  private lastState: ProcessState | null = null;

  constructor(options: FeatureExtractorOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`window must be > 0 ms`);
    this.windowNs = windowMs * 1e6;
  }

  get processCount(): number {
    let n = 0;
    for (const processes of this.logs.values()) n += processes.size;
    return n;
  }

  /** Selects the log that following `add` calls belong to. */
  beginLog(log: string): void {
    if (log === this.currentLog && this.logs.has(log)) return;
    let processes = this.logs.get(log);
    if (!processes) {
      processes = new Map();
      this.logs.set(log, processes);
    }
    this.currentLog = log;
    this.current = processes;
    this.lastPid = -1;
    this.lastState = null;
  }

  add(e: FileEvent): void {
    let state: ProcessState;
    if (e.pid === this.lastPid && this.lastState !== null) state = this.lastState;
    else {
      let found = this.current.get(e.pid);
      if (found === undefined) {
        found = new ProcessState(e.tsSec, e.tsNsec);
        this.current.set(e.pid, found);
      }
      state = found;
      this.lastPid = e.pid;
      this.lastState = found;
    }
    this.update(state, e);
  }

  private update(s: ProcessState, e: FileEvent): void {
    const type = e.type;
    // Exact nanoseconds since the process's first event (exact in a double for 104 days).
    let delta = (e.tsSec - s.firstSec) * 1e9 + (e.tsNsec - s.firstNsec);
    // Out-of-order rows (rare in real logs) count in the current window: state stays bounded and monotone.
    if (delta < s.lastDeltaNs) delta = s.lastDeltaNs;
    s.lastDeltaNs = delta;
    const window = Math.floor(delta / this.windowNs);
    if (window !== s.window) {
      closeWindow(s);
      s.window = window;
      s.windowsActive++;
    }
    s.events++;
    s.typeTotals[type]++;
    s.windowCounts[WIN_TYPE + type]++;
    if (e.pattern > 0) {
      s.patternTotal++;
      s.windowCounts[WIN_PATTERN]++;
    }
    if (s.prev2 >= 0) s.trigrams[s.prev2 * 16 + s.prev1 * 4 + type]++;
    s.prev2 = s.prev1;
    s.prev1 = type;
    this.updateBehaviours(s, type);
    if (type !== 3) this.updatePaths(s, e);
  }

  private updateBehaviours(s: ProcessState, type: number): void {
    const O = 0;
    const C = 1;
    const D = 2;
    const E = 3;
    // ocd: O → C → D
    if (s.ocdState === 2 && type === D) {
      this.match(s, 0);
      s.ocdState = 0;
    } else s.ocdState = s.ocdState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // oced: O → C → E → D
    if (s.ocedState === 3 && type === D) {
      this.match(s, 1);
      s.ocedState = 0;
    } else if (s.ocedState === 2 && type === E) s.ocedState = 3;
    else s.ocedState = s.ocedState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // ocend: O → C → E+ → D
    if (s.ocendState === 3 && type === D) {
      this.match(s, 2);
      s.ocendState = 0;
    } else if ((s.ocendState === 2 || s.ocendState === 3) && type === E) s.ocendState = 3;
    else s.ocendState = s.ocendState === 1 && type === C ? 2 : type === O ? 1 : 0;
    // ddd: non-overlapping triples of consecutive deletes
    if (type === D) {
      if (++s.deleteRun === 3) {
        this.match(s, 3);
        s.deleteRun = 0;
      }
    } else s.deleteRun = 0;
    // batch runs
    if (type === s.runType) s.runLength++;
    else {
      s.runType = type;
      s.runLength = 1;
    }
    if (s.runLength === BATCH_RUN) this.match(s, 4 + type);
  }

  private match(s: ProcessState, behaviour: number): void {
    s.behaviourTotals[behaviour]++;
    s.windowCounts[WIN_BEHAVIOUR + behaviour]++;
  }

  private updatePaths(s: ProcessState, e: FileEvent): void {
    const bytes = e.bytes;
    let start = e.nameStart;
    const end = e.nameEnd;
    // "//sys/fs/..." occurs in real logs: fold repeated leading slashes.
    while (start + 1 < end && bytes[start] === 47 && bytes[start + 1] === 47) start++;
    const modify = e.type === 1 || e.type === 2;
    const area = areaOf(bytes, start, end);
    if (area === SYSTEM) {
      if (modify) s.systemModify++;
      else s.systemOpen++;
    } else if (area === USER_DATA) {
      if (modify) s.userModify++;
      else s.userOpen++;
    }
    // Hash the directory part, remember that hash, then continue over the file name: one pass, two hashes.
    let slash = end - 1;
    while (slash >= start && bytes[slash] !== 47) slash--;
    let h = FNV_OFFSET;
    for (let i = start; i < slash; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
    const dirHash = slash >= start ? h >>> 0 : -1;
    const isCreate = e.type === 1;
    let extended = false;
    if (isCreate) {
      // A create extends a recently opened path when a prefix ending before '.', '_' or '~' was opened
      // ("a.doc" then "a.doc.locked"); the prefix hashes come for free while hashing the name.
      for (let i = slash < start ? start : slash; i < end; i++) {
        const c = bytes[i];
        if (!extended && (c === 46 || c === 95 || c === 126) && i + 1 < end)
          extended = isRecentOpen(s, h >>> 0, i - start);
        h = Math.imul(h ^ c, FNV_PRIME);
      }
    } else {
      for (let i = slash < start ? start : slash; i < end; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
    }
    const fileHash = h >>> 0;
    s.files.add(fileHash);
    if (dirHash >= 0) s.dirs.add(dirHash);
    if (isCreate) {
      if (dirHash >= 0) s.createDirs.add(dirHash);
      if (extended) s.extAppend++;
    } else if (e.type === 0 && end > start) {
      s.recentOpenHashes[s.recentNext] = fileHash;
      s.recentOpenLengths[s.recentNext] = end - start;
      s.recentNext = (s.recentNext + 1) % RECENT_OPENS;
    }
  }

  /** Feature rows for every process seen so far, ordered by log (first seen) then PID. */
  rows(): ProcessFeatures[] {
    const out: ProcessFeatures[] = [];
    for (const [log, processes] of this.logs) {
      const pids = [...processes.keys()].sort((a, b) => a - b);
      for (const pid of pids) out.push(this.finish(log, pid, processes.get(pid)!));
    }
    return out;
  }

  private finish(log: string, pid: number, s: ProcessState): ProcessFeatures {
    const max = Float64Array.from(s.windowMax);
    for (let k = 0; k < WINDOWED; k++) if (s.windowCounts[k] > max[k]) max[k] = s.windowCounts[k];
    const values = new Float64Array(FEATURE_NAMES.length);
    const lifetimeNs = Math.max(s.lastDeltaNs, this.windowNs);
    let k = 0;
    for (let t = 0; t < 4; t++) {
      values[k++] = s.typeTotals[t];
      values[k++] = max[WIN_TYPE + t];
      values[k++] = s.typeTotals[t] / s.windowsActive;
      values[k++] = (s.typeTotals[t] * 60e9) / lifetimeNs;
    }
    values[k++] = s.patternTotal;
    values[k++] = max[WIN_PATTERN];
    for (let g = 0; g < 64; g++) values[k++] = s.trigrams[g];
    for (let b = 0; b < BEHAVIOURS.length; b++) {
      values[k++] = s.behaviourTotals[b];
      values[k++] = max[WIN_BEHAVIOUR + b];
    }
    values[k++] = s.systemOpen;
    values[k++] = s.systemModify;
    values[k++] = s.userOpen;
    values[k++] = s.userModify;
    values[k++] = s.files.count;
    values[k++] = s.dirs.count;
    values[k++] = s.createDirs.count;
    values[k++] = s.extAppend;
    values[k++] = s.events;
    values[k++] = s.lastDeltaNs / 1e9;
    values[k++] = s.windowsActive;
    const lastTotal = s.firstNsec + s.lastDeltaNs;
    const lastSec = s.firstSec + Math.floor(lastTotal / 1e9);
    return {
      log,
      pid,
      firstTs: formatTimestamp(s.firstSec, s.firstNsec),
      lastTs: formatTimestamp(lastSec, lastTotal % 1e9),
      values,
    };
  }
}

function closeWindow(s: ProcessState): void {
  for (let k = 0; k < WINDOWED; k++) {
    if (s.windowCounts[k] > s.windowMax[k]) s.windowMax[k] = s.windowCounts[k];
    s.windowCounts[k] = 0;
  }
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

function isRecentOpen(s: ProcessState, prefixHash: number, prefixLength: number): boolean {
  for (let k = 0; k < RECENT_OPENS; k++) {
    if (s.recentOpenLengths[k] === prefixLength && s.recentOpenHashes[k] === prefixHash) return true;
  }
  return false;
}
