import { closeSync, openSync, writeSync } from "node:fs";
import { type Alert, formatAlertText } from "./alerts.ts";
import type { AlertSink } from "./engine.ts";

/** How alerts are written: one JSON object per line (for programs), or one line of text (for people). */
export type AlertFormat = "json" | "text";

export function formatAlert(alert: Alert, format: AlertFormat): string {
  return format === "json" ? JSON.stringify(alert) : formatAlertText(alert);
}

/**
 * Alerts to a stream such as stdout. Node writes to pipes and files synchronously on Linux, so the line is out of the
 * process before the next record is read: nothing waits in a buffer while the attack goes on.
 */
export class StreamSink implements AlertSink {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly format: AlertFormat,
  ) {}

  write(alert: Alert): void {
    this.stream.write(`${formatAlert(alert, this.format)}\n`);
  }
}

/** Alerts appended to a file, one write per line (`--alerts FILE`). */
export class FileSink implements AlertSink {
  private readonly fd: number;

  constructor(
    readonly path: string,
    private readonly format: AlertFormat = "json",
  ) {
    this.fd = openSync(path, "a");
  }

  write(alert: Alert): void {
    writeSync(this.fd, `${formatAlert(alert, this.format)}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Collects alerts in memory (library use and tests). */
export class MemorySink implements AlertSink {
  readonly alerts: Alert[] = [];

  write(alert: Alert): void {
    this.alerts.push(alert);
  }
}
