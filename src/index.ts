/**
 * threatlens as a library. Four namespaces make the public API — `ransomware`, `syscalls`, `network` and `core` —
 * and follow semantic versioning (docs/api.md); modules not reachable from here are internal.
 */
export * as core from "./core/api.ts";
export * as network from "./network/api.ts";
export * as ransomware from "./ransomware/api.ts";
export * as syscalls from "./syscalls/api.ts";
