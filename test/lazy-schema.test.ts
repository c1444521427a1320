import { describe, expect, it } from 'vitest';
import * as z from '../scripts/lib/zod.ts';
import { lazySchema } from '../scripts/lib/zod.ts';

describe('lazySchema: a schema built on first use', () => {
  it('builds nothing until used, then builds once', () => {
    let builds = 0;
    const S = lazySchema(() => {
      builds++;
      return z.object({ n: z.number() });
    });
    const Outer = lazySchema(() => z.object({ inner: S }));
    expect(builds).toBe(0);
    expect(Outer.parse({ inner: { n: 1 } })).toEqual({ inner: { n: 1 } });
    expect(S.parse({ n: 2 })).toEqual({ n: 2 });
    expect(builds).toBe(1);
  });

  it('answers as the plain schema does: values, defaults, messages and paths, members', () => {
    const shape = () => ({ name: z.string().check(z.minLength(1, 'must not be empty')), n: z._default(z.int(), 5), tags: z.optional(z.array(z.string())) });
    const plain = z.strictObject(shape());
    const lazy = lazySchema(() => z.strictObject(shape()));
    const inputs: unknown[] = [{ name: 'a' }, { name: '', n: 1.5 }, { name: 'a', extra: 1 }, { name: 'a', tags: [1] }, null, 'x'];
    for (const input of inputs) {
      const a = plain.safeParse(input);
      const b = lazy.safeParse(input);
      expect(b.success).toBe(a.success);
      expect(b.data).toEqual(a.data);
      expect(b.error?.issues.map((i) => [i.path, i.message])).toEqual(a.error?.issues.map((i) => [i.path, i.message]));
    }
    expect(Object.keys(lazy.shape)).toEqual(['name', 'n', 'tags']);
    expect(() => lazy.parse({})).toThrow(/expected string/);
  });

  it('works inside unions, optionals and as a discriminated union option', () => {
    const A = lazySchema(() => z.object({ kind: z.literal('a'), x: z.number() }));
    const B = lazySchema(() => z.object({ kind: z.literal('b'), y: z.string() }));
    const U = z.discriminatedUnion('kind', [A, B]);
    expect(U.parse({ kind: 'b', y: 'v' })).toEqual({ kind: 'b', y: 'v' });
    expect(U.safeParse({ kind: 'c' }).success).toBe(false);
    const O = z.object({ a: z.optional(A) });
    expect(O.parse({})).toEqual({});
    expect(O.safeParse({ a: { kind: 'a', x: 'no' } }).error?.issues[0]?.path).toEqual(['a', 'x']);
  });
});
