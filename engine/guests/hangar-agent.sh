#!/bin/sh
# hangar-agent: the guest side of Hangar's guest agent, installed as /usr/sbin/hangar-agent in
# the Debian guest's initramfs and started by /init on the virtio-console (hvc0). The host side,
# and the protocol, are in engine/vm/agent.ts.
#
#   hangar-agent [DEVICE]   serves on DEVICE (set raw), or on stdin/stdout as they are
#
# Written for busybox sh (no compiler is needed to build the guest). Request lines are read
# with `read` (a syscall per byte: fine for a short line, never for data); payloads with dd,
# which reads exactly the count asked (head -c reads ahead through stdio). A command's failure
# never ends the agent; a request it cannot parse gets an "err" answer. Nothing is printed
# anywhere but the channel: the serial console (ttyS0) is the user's.
# For tests on a host: HANGAR_AGENT_SET_CLOCK and HANGAR_AGENT_POWER_OFF replace
# `date -s` and `poweroff -f` (a test must not set its host's clock or power it off).

version='hangar-agent 1'
set_clock=${HANGAR_AGENT_SET_CLOCK:-date -s}
power_off=${HANGAR_AGENT_POWER_OFF:-poweroff -f}
# Words are never globbed: arguments arrive quoted, numbers unquoted.
set -f
nl='
'
umask 022

# Its own errors go nowhere (even a device that cannot be opened: init starts it again and again).
exec 2>/dev/null
if [ -n "$1" ]; then
  exec <>"$1" >&0 || exit 1
  # 8-bit clean both ways: no echo, no line editing, no CR/LF translation, no flow control.
  stty raw -echo -iexten -ixon -opost || exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hangar-agent.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
: >"$work/empty"
cd "${HOME:-/}" 2>/dev/null || cd /

# answer ID STATUS FILE1 FILE2: the reply line, then both files' bytes (work files, emptied
# after: /tmp is the guest's RAM). Every line the agent sends starts with a newline, so that a
# host skipping an earlier answer's bytes (which need not end with one) sees each line whole.
answer() {
  if [ -s "$3" ] || [ -s "$4" ]; then
    set -- "$1" "$2" "$3" "$4" $(stat -c %s "$3" "$4")
    printf '\ndone %s %s %s %s\n' "$1" "$2" "$5" "$6"
    cat "$3" "$4"
    : >"$3"
    : >"$4"
  else
    printf '\ndone %s %s 0 0\n' "$1" "$2"
  fi
}

# refuse ID MESSAGE: an "err" answer.
refuse() {
  printf '%s\n' "$2" >"$work/message"
  answer "$1" err "$work/empty" "$work/message"
}

# receive ID LENGTH FILE: the request's payload into FILE, pulled a chunk at a time. Fails when
# the host sends another line instead (a new session after a restore): that line is kept in
# $pending for the main loop.
receive() {
  : >"$3"
  left=$2
  while [ "$left" -gt 0 ]; do
    printf '\nwant %s\n' "$1"
    IFS= read -r line || exit 0
    size=${line#"$1 chunk "}
    case $size in
      "$line"|''|*[!0-9]*) pending=$line; return 1 ;;
    esac
    dd bs=65536 count="$size" iflag=count_bytes,fullblock 2>/dev/null >>"$3"
    if [ "$size" -gt "$left" ]; then
      refuse "$1" "a chunk of $size bytes, only $left expected"
      return 1
    fi
    left=$((left - size))
  done
}

# run SECONDS ARGV...: runs the command with $work/in as its stdin; sets $status. A subshell,
# so that a builtin's name (exit, cd) is looked up as a program and never acts on the agent.
run() {
  limit=$1
  shift
  if [ "$limit" -eq 0 ]; then
    (exec "$@") <"$work/in" >"$work/out" 2>"$work/err"
    status=$?
    return
  fi
  # The watchdog marks the kill in a file (emptied, not removed: rm would cost a process).
  : >"$work/timedout"
  (exec "$@") <"$work/in" >"$work/out" 2>"$work/err" &
  child=$!
  (sleep "$limit"; echo killed >"$work/timedout"; kill -9 "$child") >/dev/null 2>&1 &
  watchdog=$!
  wait "$child"
  status=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  [ -s "$work/timedout" ] && status=timeout
}

is_number() {
  case $1 in ''|*[!0-9]*) return 1 ;; esac
}

# serve LINE: one request.
serve() {
  id=${1%% *}
  rest=${1#"$id"}
  rest=${rest# }
  verb=${rest%% *}
  rest=${rest#"$verb"}
  case $id in
    '') return ;;  # a blank line: hellos start with one
    *[!A-Za-z0-9._-]*) refuse - "malformed request id"; return ;;
  esac
  # The host quotes every word; a half line (cut off by a restore) can leave a quote open.
  command eval "set -- $rest" 2>/dev/null || { refuse "$id" "malformed arguments: $verb"; return; }
  case $verb in
    hello)
      printf '\ndone %s 0 %s 0\n%s' "$id" "${#version}" "$version"
      ;;
    exec)
      if [ $# -lt 3 ] || ! is_number "$1" || ! is_number "$2"; then refuse "$id" "exec: malformed request"; return; fi
      limit=$1 length=$2
      shift 2
      receive "$id" "$length" "$work/in" || return
      run "$limit" "$@"
      : >"$work/in"
      answer "$id" "$status" "$work/out" "$work/err"
      ;;
    read)
      if [ $# -ne 1 ]; then refuse "$id" "read: malformed request"; return; fi
      if [ ! -e "$1" ]; then refuse "$id" "no such file or directory"
      elif [ -d "$1" ]; then refuse "$id" "is a directory"
      elif cat "$1" >"$work/data" 2>"$work/err"; then answer "$id" 0 "$work/data" "$work/empty"
      else answer "$id" err "$work/empty" "$work/err"
      fi
      ;;
    write)
      if [ $# -ne 3 ] || ! is_number "$2"; then refuse "$id" "write: malformed request"; return; fi
      receive "$id" "$2" "$work/data" || return
      # Redirection errors are the shell's: the group's stderr catches them.
      { cat "$work/data" >"$3" && { [ "$1" = - ] || chmod "$1" "$3"; }; } 2>"$work/err"
      written=$?
      : >"$work/data"
      if [ "$written" -eq 0 ]; then
        answer "$id" 0 "$work/empty" "$work/empty"
      else
        answer "$id" err "$work/empty" "$work/err"
      fi
      ;;
    clock)
      if [ $# -ne 2 ] || ! is_number "$1" || ! is_number "$2"; then refuse "$id" "clock: malformed request"; return; fi
      # date -s takes whole seconds: the nearest one.
      seconds=$1
      [ "$2" -ge 500000000 ] && seconds=$((seconds + 1))
      if $set_clock "@$seconds" >/dev/null 2>"$work/err"; then
        answer "$id" 0 "$work/empty" "$work/empty"
      else
        answer "$id" err "$work/empty" "$work/err"
      fi
      ;;
    poweroff)
      answer "$id" 0 "$work/empty" "$work/empty"
      sync
      $power_off
      exit 0
      ;;
    *)
      refuse "$id" "unknown request: $verb"
      ;;
  esac
}

pending=
while :; do
  if [ -n "$pending" ]; then
    line=$pending
    pending=
  else
    IFS= read -r line || exit 0
  fi
  serve "$line"
done
