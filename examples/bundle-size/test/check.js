// Behaviour checks: a smaller library must still do the same things. Each
// exported function is checked against its cases; whether the public surface
// kept all its functions is the `exports` guardrail's job, not this file's.
import assert from 'node:assert/strict';
import * as lib from '../src/index.js';

const when = new Date(0);
const data = { a: [1, { b: 2 }], when, tags: new Set(['x']), index: new Map([['k', [1]]]) };

const cases = {
  deepClone: (deepClone) => {
    const copy = deepClone(data);
    assert.deepEqual(copy, data);
    assert.notEqual(copy.a[1], data.a[1]);
    assert.notEqual(copy.when, when);
    assert.notEqual(copy.index.get('k'), data.index.get('k'));
  },
  pick: (pick) => assert.deepEqual(pick({ a: 1, b: 2 }, ['a', 'c']), { a: 1 }),
  chunk: (chunk) => {
    assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.throws(() => chunk([1], 0), RangeError);
  },
  unique: (unique) => assert.deepEqual(unique([3, 1, 3, 2, 1]), [3, 1, 2]),
  groupBy: (groupBy) => assert.deepEqual(groupBy(['apple', 'avocado', 'banana'], (s) => s[0]), { a: ['apple', 'avocado'], b: ['banana'] }),
  capitalize: (capitalize) => {
    assert.equal(capitalize('hello'), 'Hello');
    assert.equal(capitalize(''), '');
  },
  padLeft: (padLeft) => {
    assert.equal(padLeft('7', 3, '0'), '007');
    assert.equal(padLeft(42, 4), '  42');
    assert.equal(padLeft('long', 2), 'long');
  },
  truncate: (truncate) => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abc', 4), 'abc');
  },
};

const failed = [];
for (const [name, fn] of Object.entries(lib)) {
  try {
    assert.ok(cases[name], 'exported but has no checks in test/check.js');
    cases[name](fn);
  } catch (e) {
    failed.push(`${name}: ${e.message.split('\n').filter(Boolean).join(' ')}`);
  }
}
if (failed.length) {
  console.error(failed.join('\n'));
  process.exit(1);
}
console.log(`checks passed (${Object.keys(lib).length} functions)`);
