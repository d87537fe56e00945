/**
 * Runs a command as a user would (its own process, output written) and measures its wall time and peak resident
 * memory. The peak is the kernel's high-water mark (VmHWM), read from /proc while the process runs.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Measurement {
  seconds: number;
  peakRssMiB: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function measure(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string } = {},
): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const sample = () => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
      } catch {
        // The process has just exited.
      }
    };
    const timer = setInterval(sample, 10);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearInterval(timer);
      resolve({ seconds: (performance.now() - started) / 1000, peakRssMiB: peak, code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** The run with the median wall time. */
export function median(runs: Measurement[]): Measurement {
  return [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)];
}
