/**
 * A Map that holds at most `max` entries: adding a new key to a full map drops
 * the oldest insertion first. Callers that want "least recently used" delete
 * and re-set a key when they touch it.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }
}
