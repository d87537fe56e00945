import type { CollectorStats, CollectorSummary } from "./types.ts";

const n = (v: number) => v.toLocaleString("en-US");

/** A one-line status for stderr while collecting. */
export function statsLine(s: CollectorStats): string {
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(s.events / seconds) : 0;
  return `collect: ${n(s.events)} events (${n(rate)}/s), lost ${n(s.lost)}${s.malformed ? `, malformed ${n(s.malformed)}` : ""}`;
}

/** The final summary for people (stderr): events by type, what was lost, how long. */
export function summaryText(s: CollectorSummary): string {
  const seconds = s.durationMs / 1000;
  const lines: string[] = [];
  const what = s.mode === "syscalls" ? "system calls" : "events";
  lines.push(
    `collected ${n(s.events)} ${what} in ${seconds.toFixed(1)} s (${s.backend}, ${s.scope}, format ${s.format})`,
  );
  if (s.mode === "files") {
    const t = s.byType;
    lines.push(
      `  open ${n(t.open)}, create ${n(t.create)}, delete ${n(t.delete)}, encrypt ${n(t.encrypt)}, exec ${n(t.exec)}, exit ${n(t.exit)}`,
    );
  }
  if (s.backend === "bpftrace") {
    const kernel = s.kernelRecords === null ? "unknown" : n(s.kernelRecords);
    lines.push(
      `  lost ${n(s.lost)} (kernel emitted ${kernel} records, received ${n(s.records)}; bpftrace reported ${n(s.lostReported)} lost)`,
    );
    if (s.helperErrors > 0) lines.push(`  bpftrace helper errors: ${n(s.helperErrors)}`);
    if (s.mode === "files") {
      lines.push(
        `  encrypt uprobes on: ${s.libcrypto.length > 0 ? s.libcrypto.join(", ") : "no libcrypto found"}`,
      );
    }
  } else
    lines.push(
      `  lost 0 (strace stops the traced process instead of dropping events); ${n(s.records)} trace lines`,
    );
  if (s.emptyPaths > 0) lines.push(`  events with an unreadable (empty) path: ${n(s.emptyPaths)}`);
  if (s.malformed > 0) lines.push(`  unreadable tracer lines (skipped): ${n(s.malformed)}`);
  if (s.command !== undefined) {
    const c = s.command;
    lines.push(
      `  command ${c.signal !== null ? `killed by ${c.signal}` : `exited with status ${c.exitCode}`}`,
    );
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}
