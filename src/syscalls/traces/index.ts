export { detectFormat } from "./detect.ts";
export { attackTypeOf, forEachTrace, type ReadOptions, readTraces } from "./read.ts";
export { emptyStats, type ReadStats, TRACE_FORMATS, type Trace, type TraceFormat } from "./trace.ts";
