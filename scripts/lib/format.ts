// Number formats shared by every output (no imports: the status line bundles it alone).

/** A number with at most 4 decimals and no trailing zeros. */
export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  if (Math.abs(n) >= 1e6 || (Math.abs(n) < 1e-3 && n !== 0)) return n.toPrecision(4);
  return String(Number(n.toFixed(4)));
}

export function pct(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '-';
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}
