// How a Slurm job is found again without its id: its name carries the run's
// token, which the engine records before sbatch is called (journal first). A
// job whose id was never recorded (the engine killed while sbatch returned)
// is still found with `squeue --name` and cancelled by `control repair`.

export function jobName(token: string): string {
  return `autoloop-${token}`;
}

/**
 * Which job(s) a handle names, for people: the ids seen alive ("12 RUNNING", "12.batch"),
 * else the recorded id, else the name.
 */
export function slurmJobs(handle: { job_id?: string | null; token?: string | undefined }, seen: readonly (string | number)[] = []): string {
  const ids = [...new Set(seen.map((s) => /^\d+/.exec(String(s))?.[0]).filter((s): s is string => s !== undefined))];
  if (ids.length) return ids.join(', ');
  return handle.job_id ?? (handle.token ? `named ${jobName(handle.token)}` : '?');
}
