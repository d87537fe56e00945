import type { FleetInput } from "../fleet/detectors.ts";
import { eventLayoutOf } from "./events.ts";

/** The ransomware detector's input as agents ship it: event-log lines, recognised by their header. */
export const ransomwareInput: FleetInput = {
  kind: "ransomware",
  checkFirstLine(line) {
    return eventLayoutOf(line) === null
      ? "expected an event-log header (TS,PID,TYPE,FLAG,PATTERN,OPEN,CREATE,DELETE,ENCRYPT,FILENAME[,TID,PPID,UID,COMM,FLAGS,OP])"
      : null;
  },
};
