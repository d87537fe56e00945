export { detectFormat } from "./detect.ts";
export { attackTypeOf, forEachTrace, makeParser, type ReadOptions, readTraces } from "./read.ts";
export {
  emptyStats,
  type ProcessSink,
  type ReadStats,
  TRACE_FORMATS,
  type Trace,
  type TraceFormat,
} from "./trace.ts";
