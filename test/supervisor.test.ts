// The supervisor's pure parts: reading what claude reported, when a usage
// limit resets, the backoff and hourly cap, and when to stop for good.
import fc from 'fast-check';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { classify, nothingObserved, observe, type Ending, type Observed } from '../scripts/lib/supervisor/outcome.ts';
import { parseResetText, wallClock } from '../scripts/lib/supervisor/reset-time.ts';
import { afterSession, backoffMs, capWaitMs, decide, DEFAULT_POLICY, endCode, MAX_RESET_AHEAD_MS, type LoopView, type Policy } from '../scripts/lib/supervisor/policy.ts';
import { parseUpFlags } from '../scripts/lib/supervisor/flags.ts';
import { claudeArgs } from '../scripts/lib/supervisor/supervise.ts';
import { relaunchText } from '../scripts/lib/supervisor/view.ts';
import { emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { Config, type LedgerLine } from '../scripts/lib/schema.ts';
import { UsageError } from '../scripts/lib/errors.ts';
import { recentRelaunches } from '../scripts/lib/supervisor/engine.ts';
import { experimentPaths } from '../scripts/lib/paths.ts';
import { saveConfig } from '../scripts/lib/config.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

// Lines as claude 2.1.329 printed them against the scripted API (trimmed to the fields read).
const INIT = '{"type":"system","subtype":"init","session_id":"s-1","tools":[]}';
const result = (o: Record<string, unknown>): string =>
  JSON.stringify({ type: 'result', subtype: 'success', is_error: true, session_id: 's-1', num_turns: 1, ...o });
const R500 = result({ terminal_reason: 'api_error', api_error_status: 500, api_error_type: 'api_error', result: 'API Error: 500 Internal server error. This is a server-side issue, usually temporary — try again in a moment.' });
const R429 = result({ terminal_reason: 'api_error', api_error_status: 429, api_error_type: 'rate_limit_error', result: 'API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit' });
const R529 = result({ terminal_reason: 'api_error', api_error_status: 529, api_error_type: 'overloaded_error', result: 'API Error: Repeated 529 Overloaded errors. The API is at capacity — this is usually temporary.' });
const RDROP = result({ terminal_reason: 'api_error', api_error_status: null, api_error: 'connection_failed', result: 'API Error: Connection dropped (ECONNRESET).' });
const RUSAGE = result({ terminal_reason: 'api_error', api_error_status: 429, api_error_type: 'rate_limit_error', api_error: 'usage_limit_reached', result: "You've hit your 5-hour limit · resets 3:32am (UTC)" });
const LIMIT_EVENT = (resetsAt: number): string =>
  JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt, rateLimitType: 'five_hour', isUsingOverage: false } });
const RETRY = '{"type":"system","subtype":"api_retry","attempt":10,"max_retries":10,"retry_delay_ms":35936,"error_status":500,"error":"server_error"}';
const RMAXTURNS = result({ subtype: 'error_max_turns', terminal_reason: 'max_turns', errors: ['Reached maximum number of turns (2)'] });
const RDONE = result({ is_error: false, terminal_reason: 'completed', result: 'Done.' });

function seen(...lines: string[]): Observed {
  return lines.reduce((o, l) => observe(o, l).obs, nothingObserved());
}

const ok = { code: 1, signal: null };
const NOW = Date.UTC(2026, 10, 29, 1, 0); // 2026-11-29 01:00 UTC

describe('classify: why a claude session ended', () => {
  it('reads each API failure the CLI gave up on', () => {
    expect(classify(ok, seen(INIT, R429), NOW).cause).toBe('rate_limit');
    expect(classify(ok, seen(INIT, R529), NOW).cause).toBe('overloaded');
    expect(classify(ok, seen(INIT, R500), NOW).cause).toBe('api_error');
    expect(classify(ok, seen(INIT, RDROP), NOW).cause).toBe('connection');
    const e = classify(ok, seen(INIT, RETRY, R500), NOW);
    expect(e).toMatchObject({ cause: 'api_error', retryDelayMs: 35936, sessionId: 's-1' });
    expect(e.detail).toContain('500 Internal server error');
  });

  it('a usage limit: the exact reset from the rate-limit event, else from the text', () => {
    const reset = Math.floor(NOW / 1000) + 7200;
    expect(classify(ok, seen(INIT, LIMIT_EVENT(reset), RUSAGE), NOW)).toMatchObject({ cause: 'usage_limit', resetAtMs: reset * 1000 });
    expect(classify(ok, seen(INIT, RUSAGE), NOW)).toMatchObject({ cause: 'usage_limit', resetAtMs: Date.UTC(2026, 10, 29, 3, 32) });
  });

  it('a session that got past a rejected window, or whose answer mentions a limit, ended normally: no wait for a reset', () => {
    const reset = Math.floor(NOW / 1000) + 5 * 3600;
    expect(classify({ code: 0, signal: null }, seen(INIT, LIMIT_EVENT(reset), RDONE), NOW).cause).toBe('ended');
    const mention = result({ is_error: false, terminal_reason: 'completed', result: "Terminated: we hit your max-runs limit (resets never)." });
    expect(classify({ code: 0, signal: null }, seen(INIT, mention), NOW).cause).toBe('ended');
    // The same window with the session failing on it is the usage limit.
    expect(classify(ok, seen(INIT, LIMIT_EVENT(reset), R429), NOW)).toMatchObject({ cause: 'usage_limit', resetAtMs: reset * 1000 });
  });

  it('turn limits, kills, crashes, failed starts, and an ordinary end', () => {
    expect(classify(ok, seen(INIT, RMAXTURNS), NOW).cause).toBe('max_turns');
    expect(classify({ code: null, signal: 'SIGKILL' }, seen(INIT), NOW)).toMatchObject({ cause: 'killed', detail: 'claude was killed (SIGKILL)' });
    expect(classify({ code: 1, signal: null }, seen(INIT), NOW).cause).toBe('crash');
    expect(classify({ code: 1, signal: null }, seen(), NOW).cause).toBe('start_failure');
    expect(classify({ code: null, signal: null, error: 'spawn nope ENOENT' }, seen(), NOW).cause).toBe('start_failure');
    expect(classify({ code: 0, signal: null }, seen(INIT, RDONE), NOW).cause).toBe('ended');
  });

  it('--resume of a conversation that is gone: resume_failed, with no id to resume again', () => {
    // What claude 2.1.329 printed for -p --resume <an id with no transcript> (exit 1, no init line).
    const gone = JSON.stringify({ type: 'result', subtype: 'error_during_execution', is_error: true, num_turns: 0, session_id: '3f1c2b1e-0000-4000-8000-000000000000', errors: ['No conversation found with session ID: 3f1c2b1e-0000-4000-8000-000000000000'] });
    expect(classify(ok, seen(gone), NOW)).toMatchObject({ cause: 'resume_failed', sessionId: null, detail: 'No conversation found with session ID: 3f1c2b1e-0000-4000-8000-000000000000' });
    // The same error inside a session that ran is no resume failure.
    expect(classify(ok, seen(INIT, gone), NOW).cause).not.toBe('resume_failed');
  });

  it('errors a relaunch cannot fix are fatal', () => {
    expect(classify(ok, seen(INIT, result({ terminal_reason: 'api_error', api_error_status: 401, result: 'Invalid API key' })), NOW).cause).toBe('fatal');
    expect(classify(ok, seen(INIT, result({ terminal_reason: 'api_error', api_error_status: 400, result: 'prompt is too long' })), NOW).cause).toBe('fatal');
  });

  it('ignores lines that are not JSON or not of interest, and notes the CLI retries for people', () => {
    let o = nothingObserved();
    for (const l of ['not json', '{"type":"assistant","message":{}}', '']) o = observe(o, l).obs;
    expect(o).toEqual(nothingObserved());
    expect(observe(o, RETRY).note).toBe('the API answered 500 server_error; claude retries by itself (attempt 10 of 10, in 36s)');
    // An allowed window is not a limit.
    expect(observe(o, JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'allowed' } })).obs.limit).toBeNull();
  });
});

describe('parseResetText: the reset time in a limit message', () => {
  it('a time of day is its next occurrence in the named zone', () => {
    const msg = (t: string) => `You've hit your 5-hour limit · resets ${t}`;
    expect(parseResetText(msg('3:32am (UTC)'), NOW)).toBe(Date.UTC(2026, 10, 29, 3, 32));
    expect(parseResetText(msg('3:32am (UTC)'), Date.UTC(2026, 10, 29, 4, 0))).toBe(Date.UTC(2026, 10, 30, 3, 32));
    expect(parseResetText(msg('3pm (Europe/Paris)'), NOW)).toBe(Date.UTC(2026, 10, 29, 14, 0)); // CET, UTC+1
    expect(parseResetText(msg('12am (UTC)'), NOW)).toBe(Date.UTC(2026, 10, 30, 0, 0));
    expect(parseResetText(msg('12:05pm (UTC)'), NOW)).toBe(Date.UTC(2026, 10, 29, 12, 5));
  });

  it('a date with a time, a year, daylight saving time', () => {
    expect(parseResetText('resets Nov 30, 3pm (America/New_York)', NOW)).toBe(Date.UTC(2026, 10, 30, 20, 0));
    expect(parseResetText('resets Jul 4, 9:15am (America/Los_Angeles)', NOW)).toBe(Date.UTC(2027, 6, 4, 16, 15)); // PDT, next year
    expect(parseResetText('resets Jan 2, 2027, 3pm (UTC)', NOW)).toBe(Date.UTC(2027, 0, 2, 15, 0));
    expect(parseResetText('resets Jan 2, 3pm (UTC)', Date.UTC(2026, 11, 31, 12))).toBe(Date.UTC(2027, 0, 2, 15, 0));
  });

  it('a wall time that happens twice (DST ends) is read as the later instant, never before the reset', () => {
    // 2026-11-01 01:30 in New York happens at 05:30Z (EDT) and again at 06:30Z (EST).
    const now = Date.UTC(2026, 10, 1, 4, 0);
    expect(parseResetText('resets 1:30am (America/New_York)', now)).toBe(Date.UTC(2026, 10, 1, 6, 30));
    // Spring forward: 2026-03-08 02:30 never happens in New York; read as 03:30 EDT (07:30Z), not 01:30 EST.
    expect(parseResetText('resets Mar 8, 2:30am (America/New_York)', Date.UTC(2026, 2, 7, 12))).toBe(Date.UTC(2026, 2, 8, 7, 30));
  });

  it('no reset, or a zone that does not exist: null', () => {
    expect(parseResetText('API Error: Request rejected (429)', NOW)).toBeNull();
    expect(parseResetText('resets 3pm (Mars/Olympus)', NOW)).toBeNull();
    expect(parseResetText('resets soon (UTC)', NOW)).toBeNull();
  });

  // The CLI's own way of writing a reset (en-US, lower-case am/pm, minutes
  // left out on the hour, the date added beyond 24 hours), rebuilt here. One
  // formatter per shape and zone: building them anew for each of the 2,000
  // cases below cost most of this file's CPU.
  const formats = new Map<string, Intl.DateTimeFormat>();
  const formatter = (key: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat => {
    let f = formats.get(key);
    if (!f) formats.set(key, (f = new Intl.DateTimeFormat('en-US', opts)));
    return f;
  };
  function cliFormat(resetMs: number, nowMs: number, tz: string): string {
    const d = new Date(resetMs);
    const onHour = Number(formatter(`${tz} minute`, { timeZone: tz, minute: 'numeric' }).format(d)) === 0;
    const far = resetMs - nowMs > 24 * HOUR;
    const opts: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: onHour ? undefined : '2-digit', hour12: true, timeZone: tz };
    const text = formatter(`${tz} ${far} ${onHour}`, far ? { month: 'short', day: 'numeric', ...opts } : opts).format(d);
    return `You've hit your weekly limit · resets ${text.replace(/[ \u202f]([AP]M)/i, (_m, x: string) => x.toLowerCase())} (${tz})`;
  }

  it('reads back any reset the CLI writes, to the minute, in any zone', () => {
    const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Adelaide', 'Pacific/Auckland'];
    fc.assert(
      fc.property(fc.integer({ min: 2 * MIN, max: 6 * 24 * HOUR }), fc.constantFrom(...zones), fc.integer({ min: 0, max: 400 * 24 }), (ahead, tz, hours) => {
        const now = NOW + hours * HOUR;
        const reset = Math.floor((now + ahead) / MIN) * MIN;
        // A time-only text is ambiguous when the same time of day also comes
        // sooner (a day ahead less the CLI's rounding minute; a 23- or 25-hour
        // day at a DST change): the parser rightly takes the sooner one (a
        // needless relaunch is capped, a day's wait is not). Not generated.
        const clock = (t: number) => {
          const w = wallClock(t, tz)!;
          return `${w.h}:${w.mi}`;
        };
        fc.pre(![23, 24, 25].some((h) => reset - h * HOUR >= now - MIN && clock(reset - h * HOUR) === clock(reset)));
        const parsed = parseResetText(cliFormat(reset, now, tz), now);
        // The same wall time, and never before the reset: in a DST fold the
        // text names two instants an hour apart, and the later is read.
        expect(parsed).not.toBeNull();
        expect(wallClock(parsed!, tz)).toEqual(wallClock(reset, tz));
        expect(parsed! - reset).toBeGreaterThanOrEqual(0);
        expect(parsed! - reset).toBeLessThanOrEqual(HOUR);
      }),
      { numRuns: 2000 },
    );
  });
});

const P: Policy = { baseMs: 10_000, maxMs: 10 * MIN, perHour: 4, resetMarginMs: 2 * MIN, unknownResetMs: 30 * MIN };
const live: LoopView = { live: true, slug: 'speed', runs: 3 };
const end = (cause: Ending['cause'], extra: Partial<Ending> = {}): Ending => ({ cause, detail: 'd', sessionId: null, ...extra });

describe('backoff and the hourly cap', () => {
  it('doubles with each session in a row that logged no run, up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 60].map((n) => backoffMs(n, P) / 1000)).toEqual([10, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
    expect(backoffMs(3, DEFAULT_POLICY)).toBe(60_000);
  });

  it('a logged run ends the streak; a usage limit does not lengthen it', () => {
    expect(afterSession({ relaunches: [], stalled: 5 }, 3, 4, 'crash').stalled).toBe(0);
    expect(afterSession({ relaunches: [], stalled: 5 }, 3, 3, 'crash').stalled).toBe(6);
    expect(afterSession({ relaunches: [], stalled: 5 }, 3, 3, 'usage_limit').stalled).toBe(5);
  });

  it('the cap counts the relaunches of the last hour only', () => {
    expect(capWaitMs([], NOW, 4)).toBe(0);
    expect(capWaitMs([NOW - 50 * MIN, NOW - 40 * MIN, NOW - 30 * MIN], NOW, 4)).toBe(0);
    expect(capWaitMs([NOW - 50 * MIN, NOW - 40 * MIN, NOW - 30 * MIN, NOW - 1 * MIN], NOW, 4)).toBe(10 * MIN);
    expect(capWaitMs([NOW - 2 * HOUR, NOW - 59 * MIN, NOW - 40 * MIN, NOW - 30 * MIN, NOW - 1 * MIN], NOW, 4)).toBe(1 * MIN);
  });

  it('never spins: however sessions fail, relaunches in any hour stay under the cap, each after a wait', () => {
    const causes = ['crash', 'killed', 'ended', 'api_error', 'overloaded', 'rate_limit', 'connection', 'max_turns'] as const;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...causes), fc.integer({ min: 0, max: 5 * MIN }), fc.boolean()), { minLength: 1, maxLength: 60 }), (sessions) => {
        let now = NOW;
        let h = { relaunches: [] as number[], stalled: 0 };
        let runs = 0;
        for (const [cause, lasted, progressed] of sessions) {
          now += lasted;
          const after = runs + (progressed ? 1 : 0);
          h = afterSession(h, runs, after, cause);
          runs = after;
          const d = decide({ ending: end(cause), loop: { ...live, runs }, history: h, policy: P, nowMs: now });
          if (d.action !== 'relaunch') throw new Error('expected a relaunch');
          expect(d.waitMs).toBeGreaterThanOrEqual(P.baseMs);
          now += d.waitMs;
          h = { ...h, relaunches: [...h.relaunches, now] };
          expect(h.relaunches.filter((t) => t > now - HOUR).length).toBeLessThanOrEqual(P.perHour);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('decide: relaunch or stop for good', () => {
  const h = { relaunches: [], stalled: 1 };

  it('stops whenever the engine says the loop is over: exit 0 when it ended as asked, 1 when it needs a person', () => {
    const codes = { stopped: 0, cleared: 0, paused: 1, unreadable: 1 } as const;
    for (const why of Object.keys(codes) as (keyof typeof codes)[]) {
      const loop = { live: false, slug: 'speed', why, message: `loop ${why}` } as const;
      const d = decide({ ending: end('crash'), loop, history: h, policy: P, nowMs: NOW });
      expect(d).toEqual({ action: 'stop', code: codes[why], why: `loop ${why}` });
      expect(endCode(loop)).toBe(codes[why]);
    }
  });

  it('a terminated loop whose experiment is not closed: one closing session, a second only if the first was cut short, then exit 1', () => {
    const loop = { live: false, slug: 'speed', why: 'terminated', message: 'experiment speed terminated: max runs' } as const;
    expect(endCode(loop)).toBe(0); // closed as asked
    const first = decide({ ending: end('ended'), loop, history: h, policy: P, nowMs: NOW, closings: 0 });
    expect(first).toMatchObject({ action: 'relaunch', cause: 'unclosed', waitMs: P.baseMs });
    // The closing session crashed: once more; it ended by itself, or twice already: stop, and say so.
    expect(decide({ ending: end('crash'), loop, history: h, policy: P, nowMs: NOW, closings: 1 })).toMatchObject({ action: 'relaunch', cause: 'unclosed' });
    for (const [cause, closings] of [['ended', 1], ['crash', 2], ['api_error', 2]] as const) {
      const d = decide({ ending: end(cause), loop, history: h, policy: P, nowMs: NOW, closings });
      expect(d).toMatchObject({ action: 'stop', code: 1 });
      if (d.action === 'stop') expect(d.why).toMatch(/still not closed after \d closing sessions?: run \/autoloop:chain/);
    }
    // Never spins: the hourly cap holds for closing sessions too.
    const full = { relaunches: [NOW - 30 * MIN, NOW - 20 * MIN, NOW - 10 * MIN, NOW - MIN], stalled: 1 };
    expect(decide({ ending: end('ended'), loop, history: full, policy: P, nowMs: NOW })).toMatchObject({ action: 'relaunch', waitMs: 30 * MIN, capped: true });
  });

  it('a conversation that could not be resumed: a new one at once (within the cap)', () => {
    expect(decide({ ending: end('resume_failed'), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ action: 'relaunch', cause: 'resume_failed', waitMs: 0 });
    const full = { relaunches: [NOW - 30 * MIN, NOW - 20 * MIN, NOW - 10 * MIN, NOW - MIN], stalled: 1 };
    expect(decide({ ending: end('resume_failed'), loop: live, history: full, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 30 * MIN, capped: true });
  });

  it('stops (exit 1) when claude cannot start or the error cannot be fixed by a relaunch', () => {
    expect(decide({ ending: end('start_failure'), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ action: 'stop', code: 1 });
    expect(decide({ ending: end('fatal'), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ action: 'stop', code: 1 });
  });

  it('waits for a usage limit to reset, plus the margin; an unknown reset waits long', () => {
    const d = decide({ ending: end('usage_limit', { resetAtMs: NOW + 3 * HOUR }), loop: live, history: h, policy: P, nowMs: NOW });
    expect(d).toMatchObject({ action: 'relaunch', cause: 'usage_limit', waitMs: 3 * HOUR + 2 * MIN, capped: false });
    expect(decide({ ending: end('usage_limit', { resetAtMs: NOW - MIN }), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 2 * MIN });
    expect(decide({ ending: end('usage_limit', { resetAtMs: null }), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 30 * MIN });
  });

  it('never waits for good on a bogus reset: one further than a week (or not a number) is waited for as unknown', () => {
    const week = 7 * 24 * HOUR;
    expect(decide({ ending: end('usage_limit', { resetAtMs: NOW + week }), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: week + 2 * MIN });
    for (const resetAtMs of [NOW + MAX_RESET_AHEAD_MS + MIN, Date.UTC(2099, 0, 2, 15), Infinity, NaN]) {
      const d = decide({ ending: end('usage_limit', { resetAtMs }), loop: live, history: h, policy: P, nowMs: NOW });
      expect(d).toMatchObject({ action: 'relaunch', waitMs: 30 * MIN });
      if (d.action === 'relaunch') expect(d.why).toContain('not believable');
    }
    // What the CLI printed: an event with an impossible reset, and a text with a year far out.
    const bogusEvent = classify(ok, seen(INIT, JSON.stringify({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: 1e308 } }), RUSAGE), NOW);
    expect(bogusEvent.resetAtMs).toBe(Date.UTC(2026, 10, 29, 3, 32)); // the text's reset, not Infinity
    const far = classify(ok, seen(INIT, result({ api_error: 'usage_limit_reached', result: "You've hit your weekly limit · resets Jan 2, 2099, 3pm (UTC)" })), NOW);
    expect(decide({ ending: far, loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 30 * MIN });
  });

  it('every wait is finite and bounded, whatever reset or retry delay the CLI reports', () => {
    const odd = fc.oneof(fc.double(), fc.constantFrom(null, Infinity, -Infinity, NaN, 1e308 * 1000));
    const causes = ['usage_limit', 'crash', 'api_error', 'rate_limit'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...causes), odd, odd, fc.integer({ min: 0, max: 60 }), (cause, resetAtMs, retryDelayMs, stalled) => {
        const d = decide({ ending: end(cause, { resetAtMs, retryDelayMs }), loop: live, history: { relaunches: [], stalled }, policy: P, nowMs: NOW });
        if (d.action !== 'relaunch') throw new Error('expected a relaunch');
        expect(Number.isFinite(d.waitMs)).toBe(true);
        expect(d.waitMs).toBeGreaterThanOrEqual(0);
        expect(d.waitMs).toBeLessThanOrEqual(MAX_RESET_AHEAD_MS + P.resetMarginMs);
      }),
      { numRuns: 500 },
    );
  });

  it("after API errors waits at least claude's own last retry delay (bounded by the backoff ceiling)", () => {
    expect(decide({ ending: end('api_error', { retryDelayMs: 5 * 24 * HOUR }), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: P.maxMs });
    expect(decide({ ending: end('api_error', { retryDelayMs: 35_000 }), loop: live, history: h, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 35_000 });
    expect(decide({ ending: end('overloaded', { retryDelayMs: 500 }), loop: live, history: { relaunches: [], stalled: 3 }, policy: P, nowMs: NOW })).toMatchObject({ waitMs: 40_000 });
  });

  it('the hourly cap lengthens a wait and says so', () => {
    const full = { relaunches: [NOW - 30 * MIN, NOW - 20 * MIN, NOW - 10 * MIN, NOW - MIN], stalled: 1 };
    const d = decide({ ending: end('crash'), loop: live, history: full, policy: P, nowMs: NOW });
    expect(d).toMatchObject({ action: 'relaunch', waitMs: 30 * MIN, capped: true });
    if (d.action === 'relaunch') expect(d.why).toContain('claude crashed');
  });
});

describe('up flags', () => {
  it('passes claude flags through after --, refusing the ones up sets itself', () => {
    const f = parseUpFlags(['--backoff', '1', '--backoff-max', '4', '--', '--allowedTools', 'Bash Read', '--max-turns', '50'], {});
    expect(f.passThrough).toEqual(['--allowedTools', 'Bash Read', '--max-turns', '50']);
    expect(f.policy).toMatchObject({ baseMs: 1000, maxMs: 4000 });
    expect(f.claude).toBe('claude');
    expect(parseUpFlags([], { AUTOLOOP_CLAUDE: '/opt/claude' }).claude).toBe('/opt/claude');
    expect(parseUpFlags(['--claude', '/x/claude'], { AUTOLOOP_CLAUDE: '/opt/claude' }).claude).toBe('/x/claude');
    expect(() => parseUpFlags(['--', '--output-format', 'json'], {})).toThrow(UsageError);
    expect(() => parseUpFlags(['--', '--continue'], {})).toThrow(/--continue is set by up itself/);
    expect(() => parseUpFlags(['--backoff', '10', '--backoff-max', '5'], {})).toThrow(/--backoff-max/);
    expect(() => parseUpFlags(['--max-per-hour', '0'], {})).toThrow(UsageError);
    expect(() => parseUpFlags(['--bogus'], {})).toThrow(UsageError);
  });

  it("the claude command line: the agent, the prompt, stream-json; the loop's own conversation by id on a relaunch, never --continue", () => {
    expect(claudeArgs(['--model', 'x'], null)).toEqual(['--agent', 'autoloop', '-p', 'continue the autoloop experiment', '--output-format', 'stream-json', '--verbose', '--model', 'x']);
    const id = '3f1c2b1e-0000-4000-8000-000000000000';
    expect(claudeArgs(['--model', 'x'], id, '/autoloop:chain')).toEqual(['--agent', 'autoloop', '-p', '/autoloop:chain', '--output-format', 'stream-json', '--verbose', '--resume', id, '--model', 'x']);
    expect(claudeArgs([], id)).not.toContain('--continue');
    expect(() => parseUpFlags(['--', '--resume', id], {})).toThrow(/--resume is set by up itself/);
  });
});

describe('relaunch events in the state', () => {
  it('are counted and the last one is shown in one line', () => {
    const cfg = Config.parse({ name: 'speed', metric: 'time_ms', direction: 'lower', command: 'true' });
    const ev = (ts: string, cause: string, wait_s: number): LedgerLine => ({ type: 'event', ts, event: 'relaunch', data: { cause, wait_s } });
    const s = foldLines(emptyState(), [ev('2026-11-29T01:00:00.000Z', 'crash', 15), ev('2026-11-29T02:14:00.000Z', 'usage_limit', 10_800)], cfg);
    expect(s.relaunches).toEqual({ count: 2, last_ts: '2026-11-29T02:14:00.000Z', cause: 'usage_limit', wait_s: 10_800 });
    expect(relaunchText(s.relaunches)).toBe('relaunched 2× by up; last at 02:14 UTC after a usage limit (waited 3.0 h)');
    expect(relaunchText(emptyState().relaunches)).toBeNull();
  });
});

describe('recentRelaunches: the hourly cap read back from the ledgers', () => {
  const NOW_MS = Date.parse('2026-11-30T12:00:00Z');
  const at = (ms: number) => new Date(ms).toISOString();
  const relaunch = (ms: number) => JSON.stringify({ type: 'event', ts: at(ms), segment: 1, event: 'relaunch', data: { cause: 'crash' } });
  const other = (ms: number) => JSON.stringify({ type: 'event', ts: at(ms), segment: 1, event: 'reverted', data: {} });
  function experiment(root: string, slug: string, lines: string[]): void {
    const p = experimentPaths(root, slug);
    fs.mkdirSync(p.dir, { recursive: true });
    saveConfig(p.config, Config.parse({ name: slug, metric: 'ms', direction: 'lower', command: 'true', scope: ['src/**'] }));
    fs.writeFileSync(p.ledger, lines.map((l) => `${l}\n`).join(''));
  }
  afterEach(cleanupTmp);

  it("counts a chain parent's relaunches with the child's, and only those of the last hour", () => {
    const root = tmpDir();
    // The parent relaunched twice within the hour (and once long before); the chain then moved to the child.
    experiment(root, 'parent', [relaunch(NOW_MS - 3 * HOUR), relaunch(NOW_MS - 50 * MIN), other(NOW_MS - 40 * MIN), relaunch(NOW_MS - 30 * MIN)]);
    experiment(root, 'child', [relaunch(NOW_MS - 10 * MIN), relaunch(NOW_MS + 5 * MIN)]);
    expect(recentRelaunches(root, NOW_MS)).toEqual([NOW_MS - 50 * MIN, NOW_MS - 30 * MIN, NOW_MS - 10 * MIN]);
    // Four in the hour would hold the next relaunch back: with the parent's counted, three already do at a cap of three.
    expect(capWaitMs(recentRelaunches(root, NOW_MS), NOW_MS, 3)).toBe(10 * MIN);
  });

  it('reads nothing from a repository with no experiment, or an experiment with no ledger yet', () => {
    const root = tmpDir();
    expect(recentRelaunches(root, NOW_MS)).toEqual([]);
    experiment(root, 'fresh', []);
    fs.rmSync(experimentPaths(root, 'fresh').ledger);
    expect(recentRelaunches(root, NOW_MS)).toEqual([]);
  });
});
