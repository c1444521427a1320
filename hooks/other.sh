# Sourced by run.sh after pre-tool-use.sh and session.sh (whose walkers it
# uses): PreToolUse and Stop of a session that is not part of a loop someone
# else drives. The Node hook prints nothing for such a call and writes
# nothing (hooks/src/roles.ts: the guard, approvals and the journal are the
# owner's and candidates', and everyone's while nobody owns the loop; stop.ts
# blocks the owner only), so the shell says the same without starting Node.
# It answers only when that is certain: session.json names an owner, as
# Node reads it with no warning (st_session), and the payload, one valid JSON
# object whose fields are unambiguous and unescaped, names a session that is
# neither that owner nor the candidate handed the loop, and no autoloop
# agent. Anything else, an unowned loop first of all (its guard applies to
# every session), is Node's.

# $1: the payload (whole, or a Write's head closed by pf_head), $2: session.json's text. 1 to defer.
ot_decide() {
  [ -n "$2" ] && [ ${#1} -le 8192 ] || return 1
  pf_mode= && pf_walk "$1" || return 1
  case $pf_seen in *,session_id,*) ;; *) return 1 ;; esac
  # An escape could spell the owner's id or the agent's name: Node's to decode.
  case $pf_sid$pf_agent in *\\*) return 1 ;; esac
  ot_sid=$pf_sid ot_agent=$pf_agent # the walk of session.json resets them
  st_session "$2" || return 1
  [ "$st_k_owner_session" = s ] && [ "$st_v_owner_session" != "$ot_sid" ] || return 1
  [ "$st_k_candidate" != s ] || [ "$st_v_candidate" != "$ot_sid" ] || return 1
  [ "$ot_agent" != autoloop:autoloop ]
}

# active.json ($1) whose top-level loop is paused or stopped (the user's `control stop`, or the
# engine's pause): Node's PreToolUse and Stop print nothing and write nothing for any session, the
# owner included (roles.ts isLive; stop.ts), and nothing when active.json is not valid either.
# 1 otherwise, or when the shell cannot read the field unambiguously.
ot_quiet() {
  case $1 in *'"paused"'* | *'"stopped"'*) ;; *) return 1 ;; esac
  pf_mode=active st_k_loop= st_v_loop=
  pf_walk "$1" || {
    pf_mode=
    return 1
  }
  pf_mode=
  [ "$st_k_loop" = s ] || return 1
  case $st_v_loop in paused | stopped) return 0 ;; esac
  return 1
}
