// Whether a best value meets the configured target: the one definition the
// budget (termination), chain and the report share.
import type { Direction } from './schema.ts';

export function reached(direction: Direction, best: number, target: number): boolean {
  return direction === 'lower' ? best <= target : best >= target;
}
