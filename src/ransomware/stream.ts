import { InputError } from "../core/errors.ts";
import type { LineSource } from "../core/stream/line-sources.ts";
import type { LineParser } from "../core/stream/run.ts";
import { type EventLayout, type FileEvent, newEvent, parseEventRow, parseHeader } from "./events.ts";

/**
 * Event-log lines → file events, for the streaming engine: the header (line 1 of each file, again after a rotation)
 * says which layout follows; every row is parsed into one reused event object.
 */
export function eventLogParser(source: Pick<LineSource, "name">): LineParser<FileEvent> {
  const event = newEvent();
  let layout: EventLayout | null = null;
  return {
    parse(bytes, start, end, line) {
      if (line === 1 || layout === null) {
        layout = parseHeader(bytes, start, end, source.name, line);
        return null;
      }
      if (start === end) return null;
      parseEventRow(bytes, start, end, event, layout);
      return event;
    },
    finish() {
      if (layout === null) {
        throw new InputError("the file is empty; expected the header TS,PID,TYPE,…", {
          file: source.name,
          line: 1,
        });
      }
    },
  };
}
