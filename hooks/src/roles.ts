// Who a session is to the loop. The owner drives it (an engine call that
// really ran: claimed in PostToolUse, so a refused call never makes an owner);
// a candidate was handed the loop (/autoloop:* or the autoloop agent) and may
// take it over; anyone else is another Claude in the same repository.
import type { ActiveFile, SessionFile } from './schema.ts';

export const AGENT = 'autoloop:autoloop';
/** Skills the hook approves for the owner and candidates; setup needs a human. */
export const LOOP_SKILLS = new Set(['autoloop:run', 'autoloop:chain']);
/** Skills (or slash commands) that hand the loop to a session. */
export const HANDOVER_SKILLS = new Set(['autoloop:run', 'autoloop:chain', 'autoloop:setup']);

export type Role = 'owner' | 'candidate' | 'other';

export interface Caller {
  session_id: string;
  agent_type?: string | undefined;
}

export function roleOf(session: SessionFile, who: Caller): Role {
  if (session.owner_session === who.session_id) return 'owner';
  if (session.candidate === who.session_id || who.agent_type === AGENT) return 'candidate';
  return 'other';
}

/** The loop is running, or has ended but not been closed: the guard stays up until `control clear`. */
export const isLive = (active: ActiveFile): boolean => active.loop === 'active' || active.loop === 'terminated';

/** The guard applies to the owner and candidates, and to everyone while nobody owns the loop. */
export function isGuarded(active: ActiveFile, session: SessionFile, role: Role): boolean {
  return isLive(active) && (session.owner_session === null || role !== 'other');
}

/** Approvals go to the owner and candidates only, and only while the loop is live. */
export function mayApprove(active: ActiveFile, role: Role): boolean {
  return isLive(active) && role !== 'other';
}

export const terminationKey = (a: ActiveFile): string => `${a.experiment}#${a.terminated_by ?? ''}#${a.runs}`;
