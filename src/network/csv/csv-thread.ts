/**
 * The thread of FlowCsvThreadWriter: reads batches of finished flows from the shared ring as they are published,
 * turns them into CSV rows with FlowCsvRowWriter and writes them to the file the calling thread opened. It blocks
 * between batches (it has nothing else to do) and ends once the ring is closed and drained.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type ByteSink, TextBuffer, writeAllSync } from "../../core/text-buffer.ts";
import { FlowRecordRing } from "../flows/records.ts";
import { FlowCursor } from "../flows/table.ts";
import type { CsvThreadData, FromCsvThread } from "./thread-writer.ts";
import { FlowCsvRowWriter } from "./write.ts";

const data = workerData as CsvThreadData;
const port = parentPort!;

function reply(message: FromCsvThread): void {
  port.postMessage(message);
}

try {
  const ring = new FlowRecordRing(data.ring, data.slots, data.batchFlows, data.context, data.names);
  const cursors = ring.batches.map((batch) => new FlowCursor(batch));
  const out = new TextBuffer();
  const writer = new FlowCsvRowWriter(out, data.context);
  const sink: ByteSink = { write: (bytes) => writeAllSync(data.fd, bytes), close: async () => {} };
  writer.header();
  for (;;) {
    const batch = ring.next();
    if (batch === null) break;
    const cursor = cursors[ring.batches.indexOf(batch)];
    for (let i = 0; i < batch.count; i++) {
      cursor.load(i);
      writer.row(cursor);
      if (out.length >= out.flushAt) out.flush(sink);
    }
    ring.release();
  }
  out.flush(sink);
  reply({ type: "done" });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  reply({ type: "error", message: e.message, code: e.code });
}
