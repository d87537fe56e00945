import { statSync } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { UsageError } from "../core/errors.ts";
import { type ByteSink, FileSink, StreamSink, TextBuffer } from "../core/text-buffer.ts";
import type { CaptureWarning } from "./capture/types.ts";
import { FlowCsvThreadWriter } from "./csv/thread-writer.ts";
import { FlowCsvRowWriter, flowMeterRowToLine } from "./csv/write.ts";
import { extractFlowMeterRows, FLOWMETER_CSV_COLUMNS } from "./flowmeter/compat.ts";
import { loadPortNames } from "./flowmeter/ports.ts";
import { type ExtractFlowsOptions, visitFlows } from "./flows/extract.ts";
import type { FlowCursor } from "./flows/table.ts";

export interface WriteFlowsOptions extends ExtractFlowsOptions {
  /** Also write each flow's context across flows (96 more columns; `--context`). Default false. */
  withContext?: boolean;
  /** Reproduce FlowMeter's CSV instead of threatlens flows (`--flowmeter-compat`). */
  flowmeterCompat?: boolean;
  /** Compat mode: gopacket's port-name table (iana_ports.go or JSON, see PortNames). Required with flowmeterCompat. */
  portNamesPath?: string;
  /** Compat mode: FlowMeter's local-IP mode. */
  localIp?: string;
  /** Compat mode: FlowMeter's -maxNumPackets. */
  maxPackets?: number;
  /**
   * Turn rows into text on a second thread while this one extracts flows (the same bytes either way; files only,
   * not stdout). Default: when the machine has more than one core and the captures are large enough to gain by it.
   */
  writerThread?: boolean;
}

/**
 * Below this many bytes of captures, starting the writer thread (~0.1 s) costs more than it saves: an
 * attack-heavy capture's rows take about 2.5 ms of text per MiB of capture, typical traffic's less.
 */
const WRITER_THREAD_MIN_BYTES = 32 * 2 ** 20;

function isDeviceOrPipe(path: string): boolean {
  try {
    const s = statSync(path);
    return s.isCharacterDevice() || s.isBlockDevice() || s.isFIFO() || s.isSocket();
  } catch {
    return false; // a new file
  }
}

function useWriterThread(paths: readonly string[]): boolean {
  if (availableParallelism() < 2) return false;
  let bytes = 0;
  for (const path of paths) {
    try {
      bytes += statSync(path).size;
    } catch {
      // Unreadable: reported when the capture is opened.
    }
  }
  return bytes >= WRITER_THREAD_MIN_BYTES;
}

export interface WriteFlowsSummary {
  outPath: string;
  compat: boolean;
  captures: number;
  packets: number;
  rows: number;
  warnings: CaptureWarning[];
  seconds: number;
}

/**
 * Everything `threatlens network flows <PCAP>... -o FLOWS.csv [--flowmeter-compat]` does: extracts flows from the
 * captures in order and writes one CSV. Progress and warnings go to the callbacks (the library prints nothing);
 * warnings are also returned. The file appears only when complete (written aside, then renamed); "-" writes to
 * stdout.
 */
export async function writeFlowsForCaptures(
  paths: readonly string[],
  outPath: string,
  options: WriteFlowsOptions = {},
): Promise<WriteFlowsSummary> {
  if (paths.length === 0) throw new UsageError("no capture files given");
  const started = performance.now();
  const compat = options.flowmeterCompat === true;
  let portNames = null;
  if (compat) {
    if (options.portNamesPath === undefined) {
      throw new UsageError(
        "FlowMeter compatibility needs gopacket's port-name table (its layers/iana_ports.go, or a JSON export of it)",
      );
    }
    portNames = await loadPortNames(options.portNamesPath);
  }
  const toStdout = outPath === "-";
  // A file is written aside and renamed when complete; a device or a pipe (-o /dev/null, a FIFO) is written in
  // place: renaming onto it would replace it with a regular file.
  const aside = !toStdout && !isDeviceOrPipe(outPath);
  const tempPath = aside ? `${outPath}.partial-${process.pid}` : outPath;
  let sink: ByteSink | null = null;
  let threadWriter: FlowCsvThreadWriter | null = null;
  try {
    sink = toStdout ? new StreamSink(process.stdout) : new FileSink(tempPath);
    const out = new TextBuffer();
    const flush = () => (out.length >= out.flushAt ? out.flush(sink!) : undefined);
    let rows = 0;
    let stats: { captures: number; packets: number; warnings: CaptureWarning[] };
    if (portNames !== null) {
      out.text(`${FLOWMETER_CSV_COLUMNS.join(",")}\n`);
      const flows = extractFlowMeterRows(paths, { ...options, portNames });
      for await (const row of flows) {
        out.text(`${flowMeterRowToLine(row)}\n`);
        rows++;
        await flush();
      }
      stats = flows.stats;
    } else {
      const context = options.withContext === true;
      let writer: { row(flow: FlowCursor): void };
      let afterBatch: () => void | Promise<void>;
      if (sink instanceof FileSink && (options.writerThread ?? useWriterThread(paths))) {
        const thread = new FlowCsvThreadWriter(sink.fd, context, [...paths]);
        threadWriter = thread;
        writer = thread;
        afterBatch = () => thread.ready();
      } else {
        const rowWriter = new FlowCsvRowWriter(out, context);
        rowWriter.header();
        writer = rowWriter;
        afterBatch = flush;
      }
      stats = await visitFlows(
        paths,
        { ...options, context },
        (flow) => {
          writer.row(flow);
          rows++;
        },
        afterBatch,
      );
      await threadWriter?.end();
    }
    await out.flush(sink);
    await sink.close();
    if (aside) await rename(tempPath, outPath);
    return {
      outPath,
      compat,
      captures: stats.captures,
      packets: stats.packets,
      rows,
      warnings: stats.warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await threadWriter?.abort();
    if (!toStdout) await sink?.close().catch(() => {});
    if (aside) await unlink(tempPath).catch(() => {});
    throw err;
  }
}
