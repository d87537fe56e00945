/**
 * Calls `onSignal` on SIGINT and SIGTERM until the returned function is called. Live inputs whose tracer must be
 * stopped first (the collector) use it instead of the run's own handling, so what the tracer emitted is still scored.
 */
export function onStopSignals(onSignal: () => void): () => void {
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
