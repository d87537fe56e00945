import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { InputError, UsageError } from "../core/errors.ts";
import { hostToken } from "./names.ts";

/**
 * An agent's state directory: its session id (batch numbers count within a session, so a restarted agent that keeps
 * its directory continues the numbering and the scorers' state for it), its disk spool, the run it is shipping, and a
 * lock so that two agents never share one directory.
 */
export interface AgentSession {
  session: string;
  host: string;
  detector: string;
  createdAt: string;
}

export function defaultAgentStateDir(host: string, detector: string): string {
  const base = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(base, "threatlens", "agent", `${hostToken(host)}-${detector}`);
}

export class AgentState {
  readonly session: AgentSession;
  private readonly lockFile: string;

  constructor(
    readonly dir: string,
    host: string,
    detector: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.lockFile = join(dir, "agent.lock");
    this.lock();
    const file = join(dir, "session.json");
    let session: AgentSession | null = null;
    try {
      session = JSON.parse(readFileSync(file, "utf8")) as AgentSession;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw new InputError("the agent's session file is unreadable; remove the state directory", { file });
    }
    if (session && (session.host !== host || session.detector !== detector)) {
      this.unlock();
      throw new UsageError(
        `the state directory ${dir} belongs to the ${session.detector} agent of host ${session.host}; give another --state`,
      );
    }
    if (!session) {
      session = {
        session: randomBytes(9).toString("base64url"),
        host,
        detector,
        createdAt: new Date().toISOString(),
      };
      writeJson(file, session);
    }
    this.session = session;
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  readJson<T>(name: string): T | null {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), "utf8")) as T;
    } catch {
      return null;
    }
  }

  writeJson(name: string, value: unknown): void {
    writeJson(join(this.dir, name), value);
  }

  remove(name: string): void {
    rmSync(join(this.dir, name), { force: true, recursive: true });
  }

  unlock(): void {
    try {
      const pid = Number(readFileSync(this.lockFile, "utf8"));
      if (pid === process.pid) rmSync(this.lockFile, { force: true });
    } catch {
      // Already gone.
    }
  }

  private lock(): void {
    try {
      const pid = Number(readFileSync(this.lockFile, "utf8"));
      if (pid !== process.pid && alive(pid)) {
        throw new UsageError(`another agent (pid ${pid}) uses the state directory ${this.dir}`);
      }
    } catch (error) {
      if (error instanceof UsageError) throw error;
    }
    writeFileSync(this.lockFile, String(process.pid));
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value));
  renameSync(`${file}.tmp`, file);
}
