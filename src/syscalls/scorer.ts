import { RingHistory } from "../models/ngram.ts";
import { TokenSet } from "../models/set-neighbours.ts";
import type { ModelConfig, SignalName } from "./config.ts";
import type { Profile } from "./profile.ts";
import { PAD, UNKNOWN, type Vocabulary } from "./vocabulary.ts";

/**
 * The detector's per-process scoring state, fed one system call at a time: the same code scores a finished trace in
 * batch (`syscalls score`, `evaluate`, training's calibration) and a live process in `syscalls watch`. Memory is
 * constant per process (a ring of the last few syscalls, a bitset of the syscalls used, running sums).
 *
 * Every signal is a mean over the process's syscalls (or windows), so traces of any length compare:
 * - ngram: mean negative log-likelihood of each syscall given the ngramOrder − 1 before it (Witten–Bell), each
 *   capped at MAX_SURPRISE × ln(vocabulary size): one syscall never seen in training (probability from the back-off
 *   alone, which can be e^-50 after deterministic contexts) then moves a trace of L syscalls by at most that cap / L;
 * - novelty: share of syscalls whose window of the last noveltyWindow syscalls was seen fewer than noveltyMinCount
 *   times in training (STIDE with counts);
 * - repertoire: 1 − cosine similarity between the set of syscalls the process used and the nearest training trace's;
 * - autoencoder: mean autoencoder loss of the windows of windowLength syscalls.
 *
 * Timing syscalls (ModelConfig.timingSyscalls: futex, rt_sigreturn, …) are placed in a trace by the scheduler, not by
 * the program: where a thread meets a contended lock or takes an asynchronous signal changes from run to run. They
 * count in the repertoire (whether a process uses them at all) but are left out of the order the n-gram, novelty and
 * autoencoder signals read, so that a service under a different load does not look like a different program.
 *
 * A syscall outside the vocabulary (never seen in training) is left out of every signal: new names are what a new
 * kernel, library or program version brings, and on their own they should not decide a verdict. Instead each
 * distinct one adds UNKNOWN_COST to the combined score, at most MAX_UNKNOWN of them (see combine in detector.ts).
 *
 * Per-program profiles: the process is scored against its program's profile when the detector has one. A process
 * names its program when it executes one (execve) among its first PROGRAM_GRACE syscalls, otherwise it keeps the one
 * it inherited from its parent; until that is settled the syscalls are buffered and then replayed, so a live process
 * and the same trace read from a file get the same scores.
 */
export const PROGRAM_GRACE = 256;
/** The n-gram signal's cap on one syscall's surprise, in units of ln(vocabulary size) (a uniform guess). */
export const MAX_SURPRISE = 2;
/** What one distinct syscall unseen in training adds to the combined score (ln 2: as if one signal's tail
 * probability halved), and how many distinct ones count at most. */
export const UNKNOWN_COST = Math.LN2;
export const MAX_UNKNOWN = 3;
/**
 * What running a program without a profile adds, when the detector has program profiles (the traces named their
 * programs): ln 100, as if two signals' tail probabilities were ten times smaller. A service that starts a program it
 * never ran in training (cat, id, a dropped binary) is suspect for that alone; the threshold, calibrated with the same
 * cost on held-out sessions, pays for the rare programs normal sessions run.
 */
export const UNSEEN_PROGRAM_COST = Math.log(100);

export type SignalValues = Partial<Record<SignalName, number>>;

const timingCache = new WeakMap<DetectorCore, Uint8Array>();

/** The detector's timing syscalls as one flag per vocabulary id (computed once per detector). */
export function timingFlags(detector: DetectorCore): Uint8Array {
  let flags = timingCache.get(detector);
  if (flags === undefined) {
    flags = detector.vocabulary.flags(detector.config.timingSyscalls);
    timingCache.set(detector, flags);
  }
  return flags;
}

/** Scores windows of the autoencoder (cached); see AutoencoderSignal in autoencoder-signal.ts. */
export interface WindowScorer {
  readonly length: number;
  /** The loss of one window of `length` token ids (padded with PAD when the trace is shorter). */
  score(window: Int32Array): number;
}

/** What the detector's scorer reads: the trained parts, without calibration. */
export interface DetectorCore {
  config: ModelConfig;
  vocabulary: Vocabulary;
  global: Profile;
  programs: ReadonlyMap<string, Profile>;
  autoencoder: WindowScorer | null;
}

/** Evidence for an analyst: where the process departed most from its profile. */
export interface Evidence {
  /** The least likely syscall in its context: 0-based position in the process's syscalls, the syscalls before it. */
  unlikeliest: { position: number; syscall: string; logProb: number; context: string[] } | null;
  /** The first window never (or rarely) seen in training, when novelty is a signal. */
  firstNovelWindow: { position: number; syscalls: string[] } | null;
  /** Syscalls the process used that its most similar training trace did not. */
  newInRepertoire: string[];
  /** Syscall names outside the model's vocabulary. */
  unknownSyscalls: string[];
}

const MAX_LISTED = 12;

export class ProcessScorer {
  private profile: Profile | null = null;
  private inherited: string | null = null;
  /** Syscalls seen before the program was settled. */
  private buffer: Int32Array | null = new Int32Array(PROGRAM_GRACE);
  private buffered = 0;
  private readonly history: RingHistory;
  private readonly aeWindow: Int32Array | null;
  private readonly set: TokenSet;
  private repertoireDistance: number | null = null;
  private readonly unknownNames = new Set<string>();
  /** Distinct unknown names seen (counted up to MAX_UNKNOWN, for the score). */
  private distinctUnknown = 0;
  private readonly uses: Record<SignalName, boolean>;
  private readonly surpriseCap: number;
  private readonly timing: Uint8Array;
  /** Syscalls scored so far (after the program was settled; timing syscalls not counted). */
  private scored = 0;
  private nllSum = 0;
  private novelCount = 0;
  private aeSum = 0;
  private aeWindows = 0;
  private unlikeliest: { position: number; token: number; logProb: number; context: number[] } | null = null;
  private firstNovel: { position: number; tokens: number[] } | null = null;
  /** Program this process is scored against (null: the global profile), once settled. */
  program: string | null = null;
  /** The program it settled on, whether or not the detector has a profile for it. */
  namedProgram: string | null = null;
  /** Syscalls pushed, settled or not. */
  syscalls = 0;
  unknown = 0;

  constructor(
    private readonly detector: DetectorCore,
    settledProgram?: string | null,
  ) {
    const { config } = detector;
    this.uses = {
      ngram: config.signals.includes("ngram"),
      novelty: config.signals.includes("novelty"),
      repertoire: config.signals.includes("repertoire"),
      autoencoder: config.signals.includes("autoencoder") && detector.autoencoder !== null,
    };
    const span = Math.max(config.ngramOrder, config.noveltyWindow, detector.autoencoder?.length ?? 1);
    this.history = new RingHistory(span, PAD);
    this.aeWindow = detector.autoencoder ? new Int32Array(detector.autoencoder.length) : null;
    this.set = new TokenSet(detector.vocabulary.size);
    this.surpriseCap = MAX_SURPRISE * Math.log(detector.vocabulary.size);
    this.timing = timingFlags(detector);
    if (settledProgram !== undefined) this.settle(settledProgram);
  }

  /** The program this process inherited from its parent: used if it executes none within PROGRAM_GRACE syscalls. */
  inherit(program: string | null): void {
    this.inherited = program;
  }

  /** The process executed `program` (a successful execve): settles the profile if it is not settled yet. */
  exec(program: string): void {
    if (this.buffer !== null) this.settle(program);
  }

  push(name: string): void {
    this.syscalls++;
    const token = this.detector.vocabulary.indexOf(name);
    if (token === UNKNOWN) {
      this.unknown++;
      if (!this.unknownNames.has(name)) {
        if (this.distinctUnknown < MAX_UNKNOWN) this.distinctUnknown++;
        if (this.unknownNames.size < MAX_LISTED) this.unknownNames.add(name);
      }
      return;
    }
    if (this.buffer !== null) {
      if (this.buffered < PROGRAM_GRACE) {
        this.buffer[this.buffered++] = token;
        return;
      }
      this.settle(this.inherited);
    }
    this.score(token);
  }

  /** Settles the program if the process ended before it was (short processes). */
  finish(): void {
    if (this.buffer !== null) this.settle(this.inherited);
  }

  /**
   * What the process adds to its score beyond its signals: UNKNOWN_COST per distinct unknown syscall (at most
   * MAX_UNKNOWN), and UNSEEN_PROGRAM_COST when it runs a named program the detector has no profile for.
   */
  get extraCost(): number {
    const unseen = this.namedProgram !== null && this.program === null && this.detector.programs.size > 0;
    return this.distinctUnknown * UNKNOWN_COST + (unseen ? UNSEEN_PROGRAM_COST : 0);
  }

  /** Whether any syscall has been scored (a process needs one before it has signal values). */
  get ready(): boolean {
    return this.scored > 0;
  }

  /**
   * The current value of every enabled signal (higher = more anomalous). A process with nothing scored yet (or only
   * unknown syscalls) has the n-gram cap, full novelty and the distance of an empty repertoire (1).
   */
  signals(): SignalValues {
    const out: SignalValues = {};
    if (this.uses.ngram) out.ngram = this.scored === 0 ? this.surpriseCap : this.nllSum / this.scored;
    if (this.uses.novelty) out.novelty = this.scored === 0 ? 1 : this.novelCount / this.scored;
    if (this.uses.repertoire) {
      this.repertoireDistance ??= this.activeProfile().repertoires.distance(this.set);
      out.repertoire = this.repertoireDistance;
    }
    if (this.uses.autoencoder) out.autoencoder = this.autoencoderMean();
    return out;
  }

  evidence(): Evidence {
    const names = (tokens: number[]) => tokens.map((t) => this.nameOf(t));
    const profile = this.activeProfile();
    const newInRepertoire: string[] = [];
    if (this.uses.repertoire && this.set.size > 0) {
      const { index } = profile.repertoires.nearest(this.set);
      for (let t = 0; t < this.detector.vocabulary.size && newInRepertoire.length < MAX_LISTED; t++) {
        if (this.set.has(t) && (index < 0 || !profile.repertoires.holds(index, t)))
          newInRepertoire.push(this.nameOf(t));
      }
    }
    const u = this.unlikeliest;
    return {
      unlikeliest:
        u === null
          ? null
          : {
              position: u.position,
              syscall: this.nameOf(u.token),
              logProb: u.logProb,
              context: names(u.context.filter((t) => t !== PAD)),
            },
      firstNovelWindow:
        this.firstNovel === null
          ? null
          : {
              position: this.firstNovel.position,
              syscalls: names(this.firstNovel.tokens.filter((t) => t !== PAD)),
            },
      newInRepertoire,
      unknownSyscalls: [...this.unknownNames],
    };
  }

  private activeProfile(): Profile {
    return this.profile ?? this.detector.global;
  }

  private nameOf(token: number): string {
    return this.detector.vocabulary.nameOf(token);
  }

  private settle(program: string | null): void {
    const profile = program === null ? undefined : this.detector.programs.get(program);
    this.profile = profile ?? this.detector.global;
    this.program = profile === undefined ? null : program;
    this.namedProgram = program;
    const buffer = this.buffer!;
    const count = this.buffered;
    this.buffer = null;
    for (let i = 0; i < count; i++) this.score(buffer[i]);
  }

  private score(token: number): void {
    if (this.set.add(token)) this.repertoireDistance = null;
    if (this.timing[token] === 1) return;
    const { config } = this.detector;
    const profile = this.profile!;
    const position = this.scored;
    if (this.uses.ngram || this.uses.novelty) {
      const q = profile.counts.query(
        this.history,
        token,
        this.uses.ngram ? config.ngramOrder : 1,
        this.uses.novelty ? config.noveltyWindow : 1,
      );
      if (this.uses.ngram) {
        this.nllSum += Math.min(-q.logProb, this.surpriseCap);
        if (this.unlikeliest === null || q.logProb < this.unlikeliest.logProb) {
          this.unlikeliest = {
            position,
            token,
            logProb: q.logProb,
            context: this.recent(config.ngramOrder - 1),
          };
        }
      }
      if (this.uses.novelty && q.windowCount < config.noveltyMinCount) {
        this.novelCount++;
        if (this.firstNovel === null)
          this.firstNovel = { position, tokens: [...this.recent(config.noveltyWindow - 1), token] };
      }
    }
    this.history.push(token);
    this.scored++;
    const ae = this.detector.autoencoder;
    if (this.uses.autoencoder && ae !== null && this.scored >= ae.length) {
      this.aeSum += ae.score(this.window(ae.length));
      this.aeWindows++;
    }
  }

  /** The last `n` tokens scored, oldest first (PAD before the start). */
  private recent(n: number): number[] {
    const out: number[] = [];
    for (let k = n - 1; k >= 0; k--) out.push(this.history.back(k));
    return out;
  }

  private window(length: number): Int32Array {
    const w = this.aeWindow!;
    for (let k = 0; k < length; k++) w[length - 1 - k] = this.history.back(k);
    return w;
  }

  /** Mean window loss; a process shorter than the window is one window padded at the end, as in training. */
  private autoencoderMean(): number {
    const ae = this.detector.autoencoder!;
    if (this.aeWindows > 0) return this.aeSum / this.aeWindows;
    const w = this.aeWindow!;
    w.fill(PAD);
    for (let k = 0; k < this.scored; k++) w[this.scored - 1 - k] = this.history.back(k);
    return ae.score(w);
  }
}
