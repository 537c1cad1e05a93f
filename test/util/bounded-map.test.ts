import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedMap } from '../../src/util/bounded-map.js';

describe('BoundedMap', () => {
  it('drops the oldest insertion when a new key arrives at capacity, not when a held key is updated', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2);
    m.set('b', 3);
    assert.deepEqual([...m], [['a', 1], ['b', 3]], 'updating a held key evicts nothing');
    m.set('c', 4);
    assert.deepEqual([...m], [['b', 3], ['c', 4]], 'a new key pushed out the oldest');
    m.delete('b');
    m.set('b', 5); // delete + set: now the most recent
    m.set('d', 6);
    assert.deepEqual([...m], [['b', 5], ['d', 6]]);
  });
});
