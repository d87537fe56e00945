import type { EndReason, Entity, EntityHooks } from "./detector.ts";

/**
 * Entities by numeric key, for detectors whose entities are objects (processes). Ending an entity removes it, so
 * memory follows the active entities. The last key looked up is cached: consecutive records of one process, the
 * common case in event logs, skip the hash lookup.
 */
export class EntityTable<E extends Entity> {
  private readonly map = new Map<number, E>();
  private lastKey = Number.NaN;
  private last: E | undefined;

  get size(): number {
    return this.map.size;
  }

  get(key: number): E | undefined {
    if (key === this.lastKey) return this.last;
    const found = this.map.get(key);
    if (found !== undefined) {
      this.lastKey = key;
      this.last = found;
    }
    return found;
  }

  set(key: number, entity: E): void {
    this.map.set(key, entity);
    this.lastKey = key;
    this.last = entity;
  }

  /** Removes the entity and tells the engine it ended. */
  end(key: number, reason: EndReason, hooks: EntityHooks<E>): void {
    const entity = this.map.get(key);
    if (entity === undefined) return;
    this.remove(key);
    hooks.ended(entity, reason);
  }

  /** Ends the entities whose last record is older than `cutoff` (event time). */
  sweep(cutoff: number, hooks: EntityHooks<E>): void {
    for (const [key, entity] of this.map) {
      if (entity.lastSeen < cutoff) this.end(key, "idle", hooks);
    }
  }

  /** Ends every entity, in key order (so batch output is ordered). */
  drain(hooks: EntityHooks<E>, reason: EndReason = "end-of-input"): void {
    const keys = [...this.map.keys()].sort((a, b) => a - b);
    for (const key of keys) this.end(key, reason, hooks);
  }

  entries(): IterableIterator<[number, E]> {
    return this.map.entries();
  }

  clear(): void {
    this.map.clear();
    this.lastKey = Number.NaN;
    this.last = undefined;
  }

  private remove(key: number): void {
    this.map.delete(key);
    if (key === this.lastKey) {
      this.lastKey = Number.NaN;
      this.last = undefined;
    }
  }
}
