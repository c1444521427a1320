# Sourced by run.sh: PreToolUse decided in the shell for the call a loop makes
# most, the owner session running one of the plugin's engine scripts
# (`node "<plugin root>/dist/run-experiment.mjs" --description "…"`), which the
# Node hook approves (hooks/src/bash-guard.ts, approvedEngine). A Node start
# costs more than the rest of the call, and a loop makes two of these per
# iteration.
#
# The rule: answer exactly what the Node hook would answer, or defer to it.
# run.sh has already checked that this session owns a loop whose active.json
# says "active" and that the plugin root is a plain path. Here: the payload must
# be valid JSON whose top-level fields are unambiguous, and the command must
# be `node`, the script, and words of plain characters or simple quotes, with
# no expansion, redirection, operator, escape or --cwd (pf_engine); or one of
# the owner's read-only commands and diagnostics (pf_bash, below); or an edit
# (pf_edit). Anything else defers.
# Shell builtins only: a fork would cost what this saves.

pf_nl='
'

# The JSON string at the start of $pf_r (after its opening quote) into
# pf_s, raw (escapes kept); $pf_r moves past it. 1 when it is not a valid
# JSON string. No pattern here starts with * where it cuts a prefix: dash
# and bash match ${x#*\"} in time quadratic in the text before the quote (a
# 7 kB run of prose took longer than a Node start; bench/hooks.ts, _7kB).
pf_string() {
  pf_r=${pf_r#?}
  pf_p=${pf_r%%\"*}
  case $pf_r in "$pf_p"\"*) ;; *) return 1 ;; esac
  # A quoted prefix of length L costs # about L*L steps, ## about one per character after it.
  if [ ${#pf_p} -le 1024 ]; then pf_r=${pf_r#"$pf_p"\"}; else pf_r=${pf_r##"$pf_p"\"}; fi
  pf_s=$pf_p
  pf_odd "$pf_p"
  case $? in
    0) pf_s=$pf_s\" && pf_rest || return 1 ;;
    2) return 1 ;;
  esac
  case $pf_s in *[[:cntrl:]]*) return 1 ;; *\\*) pf_escapes ;; esac
}

# Does an odd run of backslashes end $1 (so the quote after it is escaped)? 2: a run of more
# than 64, Node's to read (each backslash here copies the text).
pf_odd() {
  pf_t=$1 pf_b=0
  while :; do
    case $pf_t in *\\) pf_t=${pf_t%?} pf_b=$((pf_b + 1)) ;; *) break ;; esac
    [ $pf_b -le 64 ] || return 2
  done
  [ $((pf_b % 2)) -eq 1 ]
}

# The rest of a string after an escaped quote, into pf_s; $pf_r moves past its closing quote.
# Split at the quotes once: a step per quote copied the rest of the payload each time (an Edit
# of a 7 kB JSON file, 900 escaped quotes, took bash three Node starts). 1: never closed.
pf_rest() {
  set -f
  IFS=\"
  set -- ${pf_r}x
  unset IFS
  set +f
  pf_i=0
  for pf_q do
    pf_i=$((pf_i + 1))
    [ $pf_i -lt $# ] || return 1
    pf_s=$pf_s$pf_q
    pf_odd "$pf_q"
    case $? in 0) pf_s=$pf_s\" ;; 1) break ;; *) return 1 ;; esac
  done
  shift $pf_i
  IFS=\"
  pf_r="$*"
  unset IFS
  pf_r=${pf_r%x}
}

# Every escape in pf_s is one JSON has: split at the backslashes in one pass
# (a field after one starts with the escaped character; an empty one is an
# escaped backslash, after which the next field is plain text). The hooks
# set IFS only for this split and pf_rest's.
pf_escapes() {
  set -f
  IFS=\\
  set -- $pf_s
  unset IFS
  set +f
  [ $# -eq 0 ] || shift
  pf_t=
  for pf_q do
    if [ -n "$pf_t" ]; then pf_t= && continue; fi
    case $pf_q in
      '') pf_t=1 ;;
      [\"/bfnrt]* | u[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]*) ;;
      *) return 1 ;;
    esac
  done
}

# A JSON number at the start of $pf_r; 1 when malformed.
pf_number() {
  pf_t=${pf_r%%[!0-9eE.+-]*}
  pf_r=${pf_r#"$pf_t"}
  pf_t=${pf_t#-}
  case $pf_t in 0*) pf_t=${pf_t#0} ;; [1-9]*) pf_t=${pf_t#?}; pf_digits ;; *) return 1 ;; esac
  case $pf_t in .[0-9]*) pf_t=${pf_t#.}; pf_digits ;; .*) return 1 ;; esac
  case $pf_t in [eE]*)
    pf_t=${pf_t#?} pf_t=${pf_t#[+-]}
    case $pf_t in [0-9]*) pf_digits ;; *) return 1 ;; esac
  esac
  [ -z "$pf_t" ]
}
pf_digits() { while :; do case $pf_t in [0-9]*) pf_t=${pf_t#?} ;; *) return 0 ;; esac; done; }

# A value starts (kind: s string, o object, a array, n number, b boolean, z
# null) under the current key: record the fields the decision reads, each
# exactly once and of the type the hook's schema wants (hooks/src/schema.ts).
# pf_mode picks the file: '' a hook payload; active, session or result (hooks/session.sh).
pf_value() {
  case $pf_mode$pf_stack in
    activeo | sessiono | resulto) st_field "$1" "$pf_k1" ;;
    activeoo) [ "$pf_k1" != stop_hook ] || st_field "$1" "stop_hook.$pf_k2" ;;
    active* | session* | result*) ;;
    o)
      case $pf_k1 in
        session_id | tool_name | cwd | agent_id | agent_type) [ "$1" = s ] || return 1 ;;
        stop_hook_active) [ "$1" = b ] || return 1 ;;
        source) [ "$1" = s ] || return 1 ;;
        tool_input) [ "$1" = o ] || return 1 ;;
        *) return 0 ;;
      esac
      case $pf_seen in *",$pf_k1,"*) return 1 ;; esac
      pf_seen="$pf_seen,$pf_k1,"
      case $pf_k1 in session_id) pf_sid=$pf_s ;; tool_name) pf_tool=$pf_s ;; cwd) pf_cwd=$pf_s pf_hascwd=1 ;; agent_type) pf_agent=$pf_s pf_hasagent=1 ;; source) pf_source=$pf_s ;; esac
      ;;
    oo)
      [ "$pf_k1" = tool_input ] || return 0
      case $pf_k2 in command | file_path | skill) ;; *) return 0 ;; esac
      [ "$1" = s ] || return 1
      case $pf_seen in *",in.$pf_k2,"*) return 1 ;; esac
      pf_seen="$pf_seen,in.$pf_k2,"
      case $pf_k2 in command) pf_cmd=$pf_s ;; file_path) pf_file=$pf_s ;; *) pf_skill=$pf_s ;; esac
      ;;
  esac
}

# Walk the payload ($1). Sets pf_sid, pf_tool, pf_cmd, pf_file, pf_skill, pf_cwd, pf_agent (raw JSON string text).
# 1 when it is not one valid JSON object or a field is ambiguous.
pf_walk() {
  pf_r=$1 pf_st=v pf_stack= pf_k1= pf_k2= pf_seen= pf_sid= pf_tool= pf_cmd= pf_file= pf_skill= pf_source= pf_cwd= pf_hascwd= pf_agent= pf_hasagent= pf_n=0
  while :; do
    while :; do case $pf_r in ' '* | "$pf_nl"*) pf_r=${pf_r#?} ;; *) break ;; esac; done
    [ -n "$pf_r" ] || break
    pf_n=$((pf_n + 1))
    [ $pf_n -le 2000 ] || return 1
    case $pf_st in v | e) ;; *) case $pf_r in [\"\}\],:]*) ;; *) return 1 ;; esac ;; esac
    case $pf_r in
      '{'* | '['*)
        case $pf_r in '{'*) pf_kind=o ;; *) pf_kind=a ;; esac
        pf_value $pf_kind || return 1
        pf_stack=$pf_kind$pf_stack pf_r=${pf_r#?}
        if [ $pf_kind = o ]; then pf_st=k; else pf_st=e; fi
        ;;
      '}'*)
        case $pf_st$pf_stack in ko* | ao*) ;; *) return 1 ;; esac
        pf_stack=${pf_stack#?} pf_st=a pf_r=${pf_r#?}
        ;;
      ']'*)
        case $pf_st$pf_stack in ea* | aa*) ;; *) return 1 ;; esac
        pf_stack=${pf_stack#?} pf_st=a pf_r=${pf_r#?}
        ;;
      ,*)
        [ $pf_st = a ] || return 1
        case $pf_stack in o*) pf_st=K ;; a*) pf_st=v ;; *) return 1 ;; esac
        pf_r=${pf_r#?}
        ;;
      :*)
        [ $pf_st = c ] || return 1
        pf_st=v pf_r=${pf_r#?}
        ;;
      '"'*)
        pf_string || return 1
        case $pf_st in
          k | K)
            case $pf_s in *\\* | __proto__) return 1 ;; esac
            case $pf_stack in o) pf_k1=$pf_s ;; oo) pf_k2=$pf_s ;; esac
            pf_st=c
            ;;
          v | e) pf_value s || return 1; pf_st=a ;;
          *) return 1 ;;
        esac
        ;;
      true* | false* | null*)
        case $pf_st in v | e) ;; *) return 1 ;; esac
        case $pf_r in null*) pf_kind=z ;; *) pf_kind=b ;; esac
        pf_value $pf_kind || return 1
        case $pf_r in true*) pf_r=${pf_r#true} ;; false*) pf_r=${pf_r#false} ;; *) pf_r=${pf_r#null} ;; esac
        pf_st=a
        ;;
      [-0-9]*)
        case $pf_st in v | e) ;; *) return 1 ;; esac
        pf_s=${pf_r%%[!0-9eE.+-]*}
        pf_value n || return 1
        pf_number || return 1
        pf_st=a
        ;;
      *) return 1 ;;
    esac
    # The top-level value is complete: only whitespace may follow.
    [ -n "$pf_stack" ] || [ $pf_st != a ] || pf_st=end
  done
  [ $pf_st = end ]
}

# The command's text ($1, raw JSON) if it is exactly `node <root>/dist/<approved>.mjs args…`:
# JSON escapes other than \" defer (a backslash is a shell escape too).
pf_unquote() {
  pf_r=$1 pf_c=
  while :; do
    case $pf_r in *\\*) ;; *) break ;; esac
    pf_c=$pf_c${pf_r%%\\*} pf_r=${pf_r#*\\}
    case $pf_r in \"*) pf_c=$pf_c\" pf_r=${pf_r#?} ;; *) return 1 ;; esac
  done
  pf_c=$pf_c$pf_r
}
pf_engine() {
  pf_unquote "$1" || return 1
  case $pf_c in 'node '*) pf_c=${pf_c#node} ;; *) return 1 ;; esac
  case $pf_c in *--cwd*) return 1 ;; esac
  pf_words=0 pf_script=
  while [ -n "$pf_c" ]; do
    case $pf_c in ' '*) ;; *) return 1 ;; esac
    while :; do case $pf_c in ' '*) pf_c=${pf_c#?} ;; *) break ;; esac; done
    [ -n "$pf_c" ] || break
    # A word ended by & | or ; leaves that operator next, which is no space: defer (above).
    pf_word engine || return 1
    pf_words=$((pf_words + 1))
    [ $pf_words -ne 1 ] || pf_script=$pf_w
  done
  # chain is left to Node: some of its flags replace a judge.
  case $pf_script in
    "$2"/dist/status.mjs | "$2"/dist/report.mjs | "$2"/dist/run-experiment.mjs | "$2"/dist/log-experiment.mjs | \
      "$2"/dist/control.mjs | "$2"/dist/finalize.mjs | "$2"/dist/diagnose.mjs) return 0 ;;
  esac
  return 1
}

# The strings of the top-level array "$2" in active.json ($1), one per line in
# pf_items; 1 unless each is a plain string (no escape, no quote, no bracket).
pf_list() {
  case $1 in
    *"\"$2\":["*) pf_t=${1#*"\"$2\":["} ;;
    *"\"$2\": ["*) pf_t=${1#*"\"$2\": ["} ;;
    *) return 1 ;;
  esac
  pf_t=${pf_t%%]*} pf_items=
  while :; do
    while :; do case $pf_t in ' '*) pf_t=${pf_t#?} ;; *) break ;; esac; done
    [ -n "$pf_t" ] || return 0
    case $pf_t in '"'*'"'*) pf_t=${pf_t#?} ;; *) return 1 ;; esac
    pf_q=${pf_t%%\"*} pf_t=${pf_t#*\"}
    [ -n "$pf_q" ] || return 1 # pf_plain checks the rest (a backslash, a control character)
    pf_items=$pf_items$pf_q$pf_nl
    while :; do case $pf_t in ' '*) pf_t=${pf_t#?} ;; *) break ;; esac; done
    case $pf_t in ,*) pf_t=${pf_t#,} ;; '') return 0 ;; *) return 1 ;; esac
  done
}

# A repo-relative path made of plain names: no empty, . or .. part, no odd character.
pf_plain() {
  case /$1/ in *//* | */./* | */../* | *[!A-Za-z0-9_./-]*) return 1 ;; esac
}

# Edit/Write/MultiEdit of $1 (absolute) in the project $2, active.json $3: 0
# when the shell knows the Node hook's answer, in pf_deny: empty when it
# approves (in the scope, not protected, not git's or the engine's), else the
# reason it denies (policy.ts REASONS: a judge, or outside the scope). 1 to defer.
pf_edit() {
  pf_deny=
  pf_d=$2
  case $pf_d/ in /*/ | /) ;; *) return 1 ;; esac
  case $pf_d/ in *//* | */./* | */../*) return 1 ;; esac
  case $1 in "$pf_d"/*) pf_rel=${1#"$pf_d"/} ;; *) return 1 ;; esac
  pf_plain "$pf_rel" || return 1
  case /$pf_rel/ in */.git/* | /.autoloop/*) return 1 ;; esac
  # Node compares paths with their links resolved: none on the way keeps the text exact.
  pf_p=$pf_d pf_t=$pf_rel
  while [ -n "$pf_t" ]; do
    pf_p=$pf_p/${pf_t%%/*}
    case $pf_t in */*) pf_t=${pf_t#*/} ;; *) pf_t= ;; esac
    [ ! -L "$pf_p" ] || return 1
  done
  # Parallel mode judges candidate worktrees too: Node's.
  case $3 in *'"worktrees":[]'* | *'"worktrees": []'*) ;; *) return 1 ;; esac
  pf_list "$3" protect || return 1
  pf_t=$pf_items pf_prot= pf_named=
  while [ -n "$pf_t" ]; do
    pf_q=${pf_t%%"$pf_nl"*} pf_t=${pf_t#*"$pf_nl"}
    pf_plain "$pf_q" || return 1
    case $pf_q in ./* | */) return 1 ;; esac
    case $pf_rel/ in "$pf_q"/*) pf_prot=1 ;; esac
    [ "$pf_rel" != "$pf_q" ] || pf_named=1
  done
  if [ -n "$pf_prot" ]; then
    pf_deny="autoloop: $pf_rel is protected: it judges the metric (benchmark or checks) and must stay unchanged. Improve the code in scope instead; only the user can change the benchmark, by opening a new segment with init-experiment."
    # A judge listed by name and absent (a shadow name): Node's policy.ts absentJudge, same words.
    if [ -n "$pf_named" ] && [ ! -e "$pf_d/$pf_rel" ] && [ ! -L "$pf_d/$pf_rel" ]; then
      pf_deny="autoloop: $pf_rel is protected though absent: the benchmark or checks would run or import a file there (in place of what a judge names), so it must not be created. Name your file otherwise, in scope."
    fi
    [ ${#pf_deny} -le 2000 ] # longer: Node clips it
    return
  fi
  # Another name of a judge or an engine file (a hard link): Node's.
  pf_act=$3 pf_scr=
  pf_scratch
  [ -n "$pf_scr" ] || return 1
  ! pf_linked "$1" || return 1
  # The scope: names (a name covers what is below it), name/ or name/**; a `!`, any other glob or an empty scope defers.
  pf_list "$3" scope || return 1
  [ -n "$pf_items" ] || return 1
  pf_t=$pf_items pf_in= pf_all=
  while [ -n "$pf_t" ]; do
    pf_q=${pf_t%%"$pf_nl"*} pf_t=${pf_t#*"$pf_nl"}
    pf_all=$pf_all${pf_all:+, }$pf_q
    case $pf_q in */\*\*) pf_q=${pf_q%/\*\*} ;; */) pf_q=${pf_q%/} ;; esac
    pf_plain "$pf_q" || return 1
    case $pf_q in ./*) return 1 ;; esac
    case $pf_rel/ in "$pf_q"/*) pf_in=1 ;; esac
  done
  [ -z "$pf_in" ] || return 0
  pf_deny="autoloop: $pf_rel is outside the experiment's scope ($pf_all). Only in-scope changes are measured and kept: edit files in scope, or ask the user to widen the scope with a new segment."
  [ ${#pf_deny} -le 2000 ]
}

# The owner's read-only commands (hooks/src/bash-guard.ts, readOnly): `git`
# with a reading subcommand (and -C into the project), the readers (cat, head,
# grep, ls, …) on files in the project, echo/pwd/…, the engine's approved
# scripts, mkdir of the scratch area, a bare `time` before any of them,
# joined by && || ; |, with 2>&1 or a redirection to /dev/null or into the
# experiment's scratch area; led by `cd <dir> &&` (or `;`) into a directory
# of the project, which later relative paths start from. $1: the command (raw
# JSON), $2: the project, $3: whether the payload had a cwd (then it must be
# the project), $4: the plugin root, $5: active.json's text. Words are plain
# characters or simple quoted strings (no $, backquote, backslash, glob,
# leading ~, #, tab or newline). 1 to defer.
pf_bash() {
  [ -z "$3" ] || [ "$pf_cwd" = "$2" ] || return 1
  case $pf_cwd in *\\*) return 1 ;; esac
  case $2/ in /*/ | /) ;; *) return 1 ;; esac
  case $2/ in *//* | */./* | */../* | /) return 1 ;; esac
  pf_unquote "$1" || return 1
  # pf_d: the project; pf_dr: where the command is (relative to it, '' for the top);
  # pf_lead: only cd's so far (a cd after anything else is Node's).
  pf_d=$2 pf_dr= pf_root=$4 pf_act=$5 pf_scr= pf_words= pf_n=0 pf_lead=1
  while :; do
    while :; do case $pf_c in ' '*) pf_c=${pf_c#?} ;; *) break ;; esac; done
    case $pf_c in
      '') pf_next=; pf_simple || return 1; return 0 ;;
      '&&'* | '||'*) pf_next=${pf_c%"${pf_c#??}"}; pf_simple || return 1; pf_c=${pf_c#??}; pf_words=; continue ;;
      '|&'* | '&'* | ';;'*) return 1 ;;
      '|'* | ';'*) pf_next=${pf_c%"${pf_c#?}"}; pf_simple || return 1; pf_c=${pf_c#?}; pf_words=; continue ;;
      '2>&1'[\ \;\&\|]* | '2>&1') pf_c=${pf_c#2>&1}; continue ;;
      '>&2'[\ \;\&\|]* | '>&2') pf_c=${pf_c#>&2}; continue ;;
      '>'* | '2>'*) pf_redirect || return 1; continue ;;
    esac
    pf_word || return 1
    pf_n=$((pf_n + 1))
    [ $pf_n -le 200 ] || return 1
    pf_words=$pf_words$pf_w$pf_nl
  done
}

# One word from the start of $pf_c into pf_w; $pf_c moves past it. It ends at a
# space, & | or ;. Words are plain characters or simple quoted strings; $1 =
# engine: an engine command's, whose bare parts take no ^ nor ~ (pf_engine).
pf_word() {
  pf_w=
  while :; do
    case $pf_c in
      '"'*)
        pf_c=${pf_c#?}
        case $pf_c in *'"'*) ;; *) return 1 ;; esac
        pf_q=${pf_c%%\"*} pf_c=${pf_c#*\"}
        case $pf_q in *[!\ -~]* | *[\$\`\\]*) return 1 ;; esac
        ;;
      "'"*)
        pf_c=${pf_c#?}
        case $pf_c in *"'"*) ;; *) return 1 ;; esac
        pf_q=${pf_c%%\'*} pf_c=${pf_c#*\'}
        case $pf_q in *[!\ -~]*) return 1 ;; esac
        ;;
      ' '* | '' | '&'* | '|'* | ';'*) return 0 ;;
      *)
        pf_q=${pf_c%%[\ \"\'\&\|\;]*}
        case $pf_q in *[!A-Za-z0-9_./:=+,@%^~-]*) return 1 ;; esac
        if [ "${1:-}" = engine ]; then
          case $pf_q in *[~^]*) return 1 ;; esac
          pf_c=${pf_c#"$pf_q"} pf_w=$pf_w$pf_q
          continue
        fi
        # ~ starts a home path at the start of a word, and bash expands it after the = or a :
        # of a word that looks like an assignment (cat a=~/x): Node's lexer does not, so defer.
        case $pf_w$pf_q in '~'* | *=~* | *:~*) return 1 ;; esac
        pf_c=${pf_c#"$pf_q"}
        ;;
    esac
    pf_w=$pf_w$pf_q
  done
}

# >, >>, 2> or 2>> into /dev/null or the experiment's scratch area (Node: writableHere,
# and a write there is never denied nor journalled). Relative to where the command starts.
pf_redirect() {
  pf_c=${pf_c#2} pf_c=${pf_c#>}
  pf_c=${pf_c#>}
  case $pf_c in [\&\|\<\>]*) return 1 ;; esac
  while :; do case $pf_c in ' '*) pf_c=${pf_c#?} ;; *) break ;; esac; done
  pf_word || return 1
  [ "$pf_w" != /dev/null ] || return 0
  pf_inside "$pf_w" || return 1
  pf_scratch || return 1
  ! pf_linked "$pf_abs"
}

# Is pf_rel the experiment's scratch area or below it? Its name is active.json's
# "experiment", found once and made of plain characters.
pf_scratch() {
  if [ -z "$pf_scr" ]; then
    case $pf_act in *'"experiment":'*'"experiment":'*) return 1 ;; esac
    case $pf_act in
      *'"experiment":"'*) pf_x=${pf_act#*'"experiment":"'} ;;
      *'"experiment": "'*) pf_x=${pf_act#*'"experiment": "'} ;;
      *) return 1 ;;
    esac
    pf_x=${pf_x%%\"*}
    case $pf_x in '' | . | .. | *[!A-Za-z0-9_.-]*) return 1 ;; esac
    pf_scr=.autoloop/experiments/$pf_x/scratch
  fi
  case $pf_rel in "$pf_scr" | "$pf_scr"/*) return 0 ;; esac
  return 1
}

# Is the file $1 another name (a hard link) of a judge named in protect, or of a file at the top
# of .autoloop/ or of the experiment's folder (the ledger, config, state)? Node denies such a
# write (policy.ts, linkDenial): the shell defers. Needs pf_act (active.json) and pf_scr (pf_scratch).
# 0 also when the judges cannot be listed (Node's then).
pf_linked() {
  [ -f "$1" ] || return 1
  for pf_f in "$pf_d"/.autoloop/* "$pf_d/${pf_scr%/scratch}"/*; do
    [ ! "$1" -ef "$pf_f" ] || return 0
  done
  pf_list "$pf_act" protect || return 0
  pf_t=$pf_items
  while [ -n "$pf_t" ]; do
    pf_q=${pf_t%%"$pf_nl"*} pf_t=${pf_t#*"$pf_nl"}
    [ ! "$1" -ef "$pf_d/${pf_q#./}" ] || return 0
  done
  return 1
}

# One simple command (pf_words, one word a line; pf_next: the operator after it) that
# only reads, as the Node hook judges it.
pf_simple() {
  [ -n "$pf_words" ] || return 1
  pf_t=$pf_words
  pf_prog=${pf_t%%"$pf_nl"*} pf_t=${pf_t#*"$pf_nl"}
  if [ "$pf_prog" = cd ]; then pf_cd; return; fi
  pf_lead=
  # A bare time (Node approves no other wrapper, nor time with options).
  if [ "$pf_prog" = time ]; then
    pf_prog=${pf_t%%"$pf_nl"*} pf_t=${pf_t#*"$pf_nl"}
    case $pf_prog in '' | -* | cd | time) return 1 ;; esac
  fi
  case $pf_prog in
    git) pf_git; return ;;
    node) pf_node; return ;;
    mkdir) pf_mkdir; return ;;
    echo | pwd | true | false | seq) return 0 ;;
    # printf -v NAME sets a variable (PATH: what a later cat runs; a[$(…)]: bash runs the subscript): Node's.
    printf)
      case ${pf_t%%"$pf_nl"*} in -v*) return 1 ;; esac
      return 0
      ;;
    # date -s / --set (any prefix, as getopt takes it) sets the clock: Node's.
    date)
      pf_u=$pf_t
      while [ -n "$pf_u" ]; do
        pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
        case $pf_w in --s* | -[!-]*s* | -s*) return 1 ;; esac
      done
      return 0
      ;;
    grep | egrep | fgrep | rg) pf_pat=1 ;;
    cat | head | tail | wc | ls | stat | file | du | diff | cmp | cut | nl | tr | od | hexdump | md5sum | sha1sum | \
      sha256sum | basename | dirname | realpath | readlink | column | paste | comm | fold | expand | jq | sort | uniq | find) pf_pat= ;;
    *) return 1 ;;
  esac
  # Options: sort -o writes; a grep -e/-f (or any long option) changes which word is the pattern: Node's.
  pf_u=$pf_t
  while [ -n "$pf_u" ]; do
    pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
    case $pf_w in -*) ;; *) continue ;; esac
    case $pf_prog in sort) case $pf_w in *o*) return 1 ;; esac ;; esac
    # find's actions run or write something: Node's (its tests, -name and the like, only read).
    case $pf_prog in find) case $pf_w in -exec | -execdir | -ok | -okdir | -delete | -fprint | -fprint0 | -fprintf | -fls) return 1 ;; esac ;; esac
    # file -C / --compile writes NAME.mgc: Node's.
    case $pf_prog in file) case $pf_w in --c* | -C* | -[!-]*C*) return 1 ;; esac ;; esac
    [ -z "$pf_pat" ] || case $pf_w in --* | *[ef]*) return 1 ;; esac
  done
  # Operands (every word not starting with -, past grep's pattern) must lie in the project.
  pf_u=$pf_t pf_ops=0
  while [ -n "$pf_u" ]; do
    pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
    case $pf_w in -*) continue ;; esac
    pf_ops=$((pf_ops + 1))
    [ -z "$pf_pat" ] || [ $pf_ops -ne 1 ] || continue
    pf_inside "$pf_w" || return 1
  done
  [ "$pf_prog" != uniq ] || [ $pf_ops -le 1 ]
}

# cd <dir> (or cd <dir>;) at the head of the command, into an existing directory
# of the project that this user may enter, no link on the way: then the cd cannot
# fail, and what follows runs there, where Node's guard puts it. Anything else
# (no operand or several, an option, cd -, ~, a cd after another command or in a
# pipe or before ||, a relative name CDPATH could send elsewhere) is Node's.
pf_cd() {
  [ -n "$pf_lead" ] || return 1
  case $pf_next in '&&' | ';' | '') ;; *) return 1 ;; esac
  case $pf_t in *"$pf_nl"?*) return 1 ;; esac
  pf_w=${pf_t%"$pf_nl"}
  case $pf_w in '' | -*) return 1 ;; esac
  case $pf_w in /* | . | .. | ./* | ../*) ;; *) [ -z "${CDPATH:-}" ] || return 1 ;; esac
  pf_inside "$pf_w" || return 1
  [ -d "$pf_abs" ] && [ -x "$pf_abs" ] || return 1
  pf_dr=$pf_rel
}

# git with a reading subcommand and none of the options that run or write something else;
# -C only into the project.
pf_git() {
  pf_u=$pf_t
  while :; do
    pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
    case $pf_w in
      --no-pager) ;;
      -C) pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}; pf_inside "$pf_w" || return 1 ;;
      *) break ;;
    esac
  done
  case $pf_w in
    status | diff | log | show | rev-parse | ls-files | ls-tree | blame | grep | shortlog | describe | cat-file | rev-list | merge-base) ;;
    *) return 1 ;;
  esac
  while [ -n "$pf_u" ]; do
    pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
    case $pf_w in --output* | --ext-diff* | --textconv* | --filters* | --exec* | --upload-pack* | --no-index*) return 1 ;; esac
    # git's parse-options takes any unambiguous prefix (git grep --open=CMD runs CMD): a prefix of
    # one of these is Node's too.
    case $pf_w in --?*)
      pf_x=${pf_w#--} pf_x=${pf_x%%=*}
      for pf_q in output ext-diff textconv filters exec upload-pack open-files-in-pager no-index; do
        case $pf_q in "$pf_x"*) return 1 ;; esac
      done
      ;;
    esac
    # git grep -O runs a pager program (Node judges it): any -O, in any cluster, is Node's.
    case $pf_w in --open-files-in-pager* | -O* | -[!-]*O*) return 1 ;; esac
  done
}

# node <plugin root>/dist/<approved>.mjs … (as pf_engine), inside a chain or a pipe.
pf_node() {
  pf_w=${pf_t%%"$pf_nl"*}
  case $pf_w in
    "$pf_root"/dist/status.mjs | "$pf_root"/dist/report.mjs | "$pf_root"/dist/run-experiment.mjs | "$pf_root"/dist/log-experiment.mjs | \
      "$pf_root"/dist/control.mjs | "$pf_root"/dist/finalize.mjs | "$pf_root"/dist/diagnose.mjs) ;;
    *) return 1 ;;
  esac
  case $pf_nl$pf_t in *"$pf_nl"--cwd*) return 1 ;; esac
}

# mkdir [-p] [-v] of the scratch area or below it.
pf_mkdir() {
  pf_u=$pf_t pf_ops=0
  while [ -n "$pf_u" ]; do
    pf_w=${pf_u%%"$pf_nl"*} pf_u=${pf_u#*"$pf_nl"}
    case $pf_w in -p | -v | -pv | -vp) continue ;; -*) return 1 ;; esac
    pf_ops=$((pf_ops + 1))
    pf_inside "$pf_w" && pf_scratch || return 1
  done
  [ $pf_ops -gt 0 ]
}

# Is the word, as a path from where the command is, inside the project? `.` and `..`
# are taken by name, as Node's path.resolve takes them, and no name on the way may be a
# link (Node resolves links; the kernel takes .. after a link elsewhere), nor may the way
# leave the project. Sets pf_rel (from the project, '' for its top) and pf_abs.
pf_inside() {
  case $1 in
    '') return 1 ;;
    "$pf_d" | "$pf_d"/*) pf_q=${1#"$pf_d"} ;;
    /*) return 1 ;;
    *) pf_q=$pf_dr/$1 ;;
  esac
  pf_rel=
  while :; do
    while :; do case $pf_q in /*) pf_q=${pf_q#/} ;; *) break ;; esac; done
    [ -n "$pf_q" ] || break
    pf_x=${pf_q%%/*}
    case $pf_q in */*) pf_q=${pf_q#*/} ;; *) pf_q= ;; esac
    case $pf_x in
      .) ;;
      ..)
        [ -n "$pf_rel" ] || return 1
        case $pf_rel in */*) pf_rel=${pf_rel%/*} ;; *) pf_rel= ;; esac
        ;;
      *)
        pf_rel=$pf_rel${pf_rel:+/}$pf_x
        [ ! -L "$pf_d/$pf_rel" ] || return 1
        ;;
    esac
  done
  pf_abs=$pf_d${pf_rel:+/}$pf_rel
}

# $1: the payload, $2: this session's id, $3: the plugin root, $4: the
# project, $5: active.json's text. Prints the decision; 1 to defer.
pf_decide() {
  # Walking a large payload in the shell costs more than Node (each escaped quote rescans the rest).
  [ ${#1} -le 8192 ] || return 1
  case $1 in *'"tool_name":"'* | *'"tool_name": "'*) ;; *) return 1 ;; esac
  pf_walk "$1" || return 1
  [ "$pf_sid" = "$2" ] || return 1
  case $pf_tool in
    # A read-only command writes nothing, so nothing for the journal (and the shell has no clock for an E line).
    Bash) pf_engine "$pf_cmd" "$3" || pf_bash "$pf_cmd" "$4" "$pf_hascwd" "$3" "$5" || return 1 ;;
    Edit | Write | MultiEdit)
      pf_edit "$pf_file" "$4" "$5" || return 1
      if [ -n "$pf_deny" ]; then
        # Plain names and fixed text: nothing JSON would escape. A denied call writes no journal line.
        printf '%s%s%s\n' '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"' "$pf_deny" '"}}'
        return 0
      fi
      # The attribution journal (scripts/lib/journal.ts): the model writes this file.
      printf 'W %s\n' "$pf_rel" 2>/dev/null >>"$4/.autoloop/journal"
      ;;
    *) return 1 ;;
  esac
  printf '%s\n' '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow","permissionDecisionReason":"autoloop: on the loop'"'"'s allow list"}}'
}

# A Write whose payload is larger than the one block the shell read ($1, its
# first 8 kB): Claude Code writes the payload with JSON.stringify, so there is
# no duplicate key and tool_input is {"file_path":…,"content":…}. When the
# block holds everything up to the content (the top-level fields before
# tool_input, then file_path, whole and with no escape), those fields decide
# the call: pf_headed is that part with the objects closed, for pf_decide.
# 1 to defer (file_path escaped or cut by the block, another order or spelling).
pf_head() {
  case $1 in *'"tool_input":{"file_path":"'*) ;; *) return 1 ;; esac
  pf_t=${1#*'"tool_input":{"file_path":"'}
  case $pf_t in *'"'*) ;; *) return 1 ;; esac
  pf_q=${pf_t%%\"*} pf_t=${pf_t#*\"}
  case $pf_q in *\\*) return 1 ;; esac
  case $pf_t in ',"content":"'*) ;; *) return 1 ;; esac
  pf_headed="${1%%'"tool_input":{"file_path":"'*}\"tool_input\":{\"file_path\":\"$pf_q\"}}"
}
