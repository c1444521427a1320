import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../src/duration.js';

test('parseDuration adds up its parts', () => {
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('2d 4h'), 187200);
});
