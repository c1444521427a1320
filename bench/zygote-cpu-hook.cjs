// Preloaded (node -r) into a zygote by bench/zygote-cpu.ts: the CPU of one call
// from its message to its exit, the zygote's own (process.cpuUsage) and its
// waited-for children's (/proc/self/stat cutime + cstime, 10 ms ticks), written
// as JSON to the file named by AUTOLOOP_BENCH_ZCPU_OUT (read now: the call
// replaces the environment).
const fs = require('node:fs');
const out = process.env.AUTOLOOP_BENCH_ZCPU_OUT;
const kids = () => {
  const s = fs.readFileSync('/proc/self/stat', 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
};
const self = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
let t0 = null;
process.prependOnceListener('message', () => {
  t0 = { self: self(), kids: kids(), at: process.hrtime.bigint() };
});
const exit = process.reallyExit;
process.reallyExit = function (code) {
  if (t0 && out) fs.writeFileSync(out, JSON.stringify({ self: self() - t0.self, kids: kids() - t0.kids, wall: Number(process.hrtime.bigint() - t0.at) / 1e6 }));
  return exit.call(process, code);
};
