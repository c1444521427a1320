// The keep's commit written in the engine (loose-commit.ts) is the object
// `git commit-tree` writes in the same repository, same environment, same
// second: compared by id under several configs, environments and time zones;
// where any input is in doubt the engine declines (null) and git is asked.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpDir } from './helpers/tmp.ts';
import { writeCommit } from '../scripts/lib/loose-commit.ts';
import { cleanIdent, identKeys } from '../scripts/lib/commit-ident.ts';
import { gitTz, localGitTz, tzifOffset } from '../scripts/lib/tz-offset.ts';

const base = tmpDir('autoloop-loose-commit-');
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** The environment the engine gives git: no GIT_* at all (gitcmd.ts), a home of the test's own. */
function envOf(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toUpperCase().startsWith('GIT_') && !['TZ', 'XDG_CONFIG_HOME', 'EMAIL', 'TZDIR'].includes(k)) env[k] = v;
  return { ...env, HOME: home, ...extra };
}

function run(cwd: string, env: NodeJS.ProcessEnv, args: string[]): { code: number | null; out: string } {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim() };
}

let n = 0;
/** A repository with one commit and a home; config texts by place. */
function setup(cfg: { global?: string; xdg?: string; local?: string }): { repo: string; home: string; tree: string; head: string } {
  const dir = path.join(base, `r${n++}`);
  const home = path.join(dir, 'home');
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(path.join(home, '.config', 'git'), { recursive: true });
  fs.mkdirSync(repo, { recursive: true });
  const env = envOf(home, { GIT_AUTHOR_NAME: 'seed', GIT_AUTHOR_EMAIL: 's@x', GIT_COMMITTER_NAME: 'seed', GIT_COMMITTER_EMAIL: 's@x' });
  run(repo, env, ['init', '-q']);
  fs.writeFileSync(path.join(repo, 'a.txt'), 'a\n');
  run(repo, env, ['add', 'a.txt']);
  expect(run(repo, env, ['commit', '-q', '-m', 'seed']).code).toBe(0);
  if (cfg.global !== undefined) fs.writeFileSync(path.join(home, '.gitconfig'), cfg.global);
  if (cfg.xdg !== undefined) fs.writeFileSync(path.join(home, '.config', 'git', 'config'), cfg.xdg);
  if (cfg.local !== undefined) fs.appendFileSync(path.join(repo, '.git', 'config'), cfg.local);
  return { repo, home, tree: run(repo, env, ['rev-parse', 'HEAD^{tree}']).out, head: run(repo, env, ['rev-parse', 'HEAD']).out };
}

const MSG = 'autoloop: faster\n\nAutoloop-Run: r0002\n';
const T = 1751000000; // a summer second (daylight time north of the equator)

/** Both ways at second `t`: the engine's id (or null) and git's (or null when commit-tree fails). */
function both(r: ReturnType<typeof setup>, extra: Record<string, string> = {}, t = T): { ours: string | null; gits: string | null } {
  const env = envOf(r.home, extra);
  const ours = writeCommit(r.repo, path.join(r.repo, '.git', 'objects'), r.tree, r.head, MSG, t, env);
  const g = run(r.repo, { ...env, GIT_AUTHOR_DATE: `@${t}`, GIT_COMMITTER_DATE: `@${t}` }, ['commit-tree', '--no-gpg-sign', r.tree, '-p', r.head, '-m', MSG]);
  return { ours, gits: g.code === 0 ? g.out : null };
}

describe('the keep commit written in the engine', () => {
  it('equals commit-tree, id for id, where the identity and zone are certain', () => {
    const cases: Array<[Parameters<typeof setup>[0], Record<string, string>]> = [
      [{ global: '[user]\n\tname = Ada Lovelace\n\temail = ada@example.invalid\n' }, {}],
      [{ global: '[user]\n\tname = Ada\n\temail = ada@example.invalid\n', local: '[user]\n\tname = Local Name\n' }, { TZ: 'Europe/Paris' }],
      [{ xdg: '[User]\n  Name=X Y  ; a comment\n  EMAIL = x@y.invalid # another\n[alias]\n\tst = "status -s"\n' }, { TZ: 'America/St_Johns' }],
      [{ xdg: '[user]\n\tname = From XDG\n\temail = x@x.invalid\n', global: '[user]\n\tname = From Home\n' }, { TZ: 'Asia/Kolkata' }],
      [{ global: '[user]\n\tname = Zoë Ünïcode\n\temail = z@example.invalid\n' }, { TZ: ':Pacific/Chatham' }],
      [{ global: '[user]\n\tname = N\n\temail = n@n.invalid\n[commit]\n\tgpgSign = true\n' }, { TZ: 'UTC', EMAIL: 'other@x.invalid' }],
    ];
    for (const [cfg, extra] of cases) {
      const r = setup(cfg);
      const { ours, gits } = both(r, extra);
      expect(ours, JSON.stringify(cfg)).not.toBeNull();
      expect(ours, JSON.stringify(cfg)).toBe(gits);
      expect(run(r.repo, envOf(r.home), ['fsck', '--strict', '--no-dangling']).code).toBe(0);
    }
  });

  it('declines wherever git might take another identity, encoding or zone (git is asked then)', () => {
    const ok = '[user]\n\tname = Ada\n\temail = ada@example.invalid\n';
    const cases: Array<[Parameters<typeof setup>[0], Record<string, string>]> = [
      [{ global: ok + '[author]\n\tname = Someone Else\n' }, {}],
      [{ global: ok + '[committer]\n\temail = c@example.invalid\n' }, {}],
      [{ global: ok + '[i18n]\n\tcommitEncoding = ISO-8859-1\n' }, {}],
      [{ global: ok + '[include]\n\tpath = other\n' }, {}],
      [{ global: ok, local: '[core]\n\tfsync = loose-object\n' }, {}],
      [{ global: '[user]\n\tname = "Ada  Quoted"\n\temail = ada@example.invalid\n' }, {}],
      [{ global: '[user]\n\tname = Ada \\\n Continued\n\temail = ada@example.invalid\n' }, {}],
      [{ global: '[user]\n\tname = Ada.\n\temail = ada@example.invalid\n' }, {}],
      [{ global: '[user]\n\tname = Ada\n' }, {}],
      [{ global: '[user] name = Ada\n\temail = ada@example.invalid\n' }, {}],
      [{ global: ok }, { TZ: 'CET-1CEST,M3.5.0,M10.5.0/3' }],
      [{ global: ok }, { TZ: 'Europe/Paris', TZDIR: '/usr/share/zoneinfo' }],
      [{ global: ok }, { TZ: 'No/Such_Zone' }],
    ];
    for (const [cfg, extra] of cases) {
      const r = setup(cfg);
      expect(both(r, extra).ours, JSON.stringify([cfg, extra])).toBeNull();
    }
    // The identity git would use where the engine declines is git's: author.name wins over user.name.
    const r = setup({ global: ok + '[author]\n\tname = Someone Else\n' });
    const id = both(r).gits!;
    expect(run(r.repo, envOf(r.home), ['log', '-1', '--format=%an|%cn', id]).out).toBe('Someone Else|Ada');
  });

  it("the zone's offset is glibc's (date +%z) through two years and at a switch, and the format git's", () => {
    const zones = ['Europe/Paris', 'America/St_Johns', 'Australia/Lord_Howe', 'America/Sao_Paulo', 'Asia/Tehran', 'UTC', 'Etc/GMT+5', 'Asia/Kolkata'];
    // Monthly through 2025 and 2026, and each side of the EU switch of 2025-03-30 01:00 UTC.
    const times = [...Array.from({ length: 24 }, (_, i) => 1735689600 + i * 2629800), 1743296399, 1743296400, 1743296401];
    let checked = 0;
    for (const zone of zones) {
      for (const t of times) {
        const ours = localGitTz(t, { TZ: zone });
        const glibc = spawnSync('date', ['-d', `@${t}`, '+%z'], { env: { ...process.env, TZ: zone }, encoding: 'utf8' }).stdout.trim();
        expect(ours, `${zone} ${t}`).toBe(glibc);
        checked++;
      }
    }
    expect(checked).toBe(zones.length * times.length);
    expect([gitTz(0), gitTz(3600), gitTz(-12600), gitTz(45900), gitTz(-59), gitTz(561)]).toEqual(['+0000', '+0100', '-0330', '+1245', '+0000', '+0009']);
    expect(tzifOffset(Buffer.from('not a zone'), T)).toBeNull();
    expect(localGitTz(T, { TZ: 'UTC' })).toBe('+0000');
    expect(localGitTz(T, { TZ: 'CET-1CEST,M3.5.0,M10.5.0/3' })).toBeNull();
  });

  it('messages git would rewrite, and config syntax read strictly', () => {
    const r = setup({ global: '[user]\n\tname = Ada\n\temail = ada@example.invalid\n' });
    expect(writeCommit(r.repo, path.join(r.repo, '.git', 'objects'), r.tree, r.head, 'bad \uFFFE byte\n', T, envOf(r.home, { TZ: 'UTC' }))).toBeNull();
    expect(writeCommit(r.repo, path.join(r.repo, '.git', 'objects'), r.tree, r.head.slice(0, 39), MSG, T, envOf(r.home, { TZ: 'UTC' }))).toBeNull();
    expect(identKeys('[user]\n\tname = A\n\tname = B\n')).toMatchObject({ name: 'B', doubt: false });
    expect(identKeys('[core]\n\teditor = "vim\n[user]\n\tname = A\n').doubt).toBe(true);
    expect(identKeys('[user "x"]\n\tname = A\n').doubt).toBe(true);
    expect(identKeys('[ user ]\n\tname = A\n').doubt).toBe(true);
    expect(identKeys('[core]\n\tpager = less ; "x"\n[user]\n\temail = a@b\n')).toMatchObject({ email: 'a@b', doubt: false });
    expect(identKeys('[user]\n\tname = A\tB\n').doubt).toBe(true);
    expect(identKeys('[user]\n\tname =\n').doubt).toBe(true);
    expect([cleanIdent('Ada'), cleanIdent(' Ada'), cleanIdent('A<b'), cleanIdent("Ada'"), cleanIdent('')]).toEqual([true, false, false, false, false]);
  });
});
