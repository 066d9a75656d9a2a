#!/usr/bin/env bash
# A real Asterisk (Debian sid, 22.x) on this machine, for development and tests.
#
#   scripts/asterisk.sh build      build the chroot once (cached; rebuilt only when missing)
#   scripts/asterisk.sh start      build if needed, render the configs, start, wait for ARI;
#                                  prints the path of ari.env (a no-op when already running)
#   scripts/asterisk.sh stop       stop Asterisk, unmount, leave nothing behind (safe when stopped)
#   scripts/asterisk.sh restart    stop + start
#   scripts/asterisk.sh status     exit 0 when running and ARI answers, else 3
#   scripts/asterisk.sh cli CMD..  run an Asterisk CLI command, e.g. cli pjsip show endpoints
#   scripts/asterisk.sh clean      stop and delete the chroot (the next start rebuilds it)
#
# Environment:
#   INTERVENE_ASTERISK_ROOT    the chroot (default ${XDG_CACHE_HOME:-$HOME/.cache}/intervene/asterisk-sid)
#   INTERVENE_ASTERISK_RUN     pid, logs, passwords, ari.env (default /tmp/intervene-asterisk)
#   INTERVENE_ARI_PASSWORD     ARI password of user "intervene" (default: generated once, kept in the run dir)
#   INTERVENE_SIP_PASSWORD     digest password of the test phones lead1..24, rep1..24 (same)
#   INTERVENE_DEBIAN_MIRROR    Debian mirror for the build (default: the host's apt sources)
#   INTERVENE_ASTERISK_START_TIMEOUT   seconds to wait for ARI (default 30)
#
# Asterisk runs as root inside the chroot (`asterisk -U root -G root -f`), shares the host's
# network and listens on 127.0.0.1 only: HTTP/ARI 8088, SIP/UDP 5060, RTP 10000-10999.
# The configs come from asterisk/*.conf and dialplans/extensions.conf (templates with
# @@NAME@@ placeholders); the test phones are generated here (see dev_phones).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(realpath -m "${INTERVENE_ASTERISK_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/intervene/asterisk-sid}")
RUN=$(realpath -m "${INTERVENE_ASTERISK_RUN:-/tmp/intervene-asterisk}")
START_TIMEOUT=${INTERVENE_ASTERISK_START_TIMEOUT:-30}
ARI_URL=http://127.0.0.1:8088
ARI_USER=intervene
SIP_SERVER=127.0.0.1:5060
PHONES=24   # lead1..lead24 and rep1..rep24; dialplans/extensions.conf checks the same range
PACKAGES=asterisk,asterisk-modules,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm
PIDFILE=$RUN/asterisk.pid
LOG=$RUN/asterisk.log
ENVFILE=$RUN/ari.env
BUILD_TMP=""

die() { echo "asterisk.sh: $*" >&2; exit 1; }
say() { echo "asterisk.sh: $*" >&2; }
now_ms() { date +%s%3N; }

# --- safety helpers -----------------------------------------------------------------------

# Unmount everything mounted at or below $1, deepest first (lazy as a last resort).
unmount_under() {
  local dir=$1 m
  local -a mounts
  mapfile -t mounts < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r)
  for m in "${mounts[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
  # a path mounted twice shows up twice; loop until nothing is left (bounded)
  local tries=0
  while awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {f=1} END {exit !f}' /proc/mounts; do
    tries=$((tries + 1)); [ $tries -le 5 ] || { say "mounts left under $dir"; return 1; }
    m=$(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r | head -n1)
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# Delete a chroot: unmount first, and never cross into another file system (a bound /dev).
remove_tree() {
  local dir=$1
  [ -e "$dir" ] || return 0
  unmount_under "$dir" || die "refusing to delete $dir: something is still mounted in it"
  rm -rf --one-file-system -- "$dir"
}

# Processes whose root directory is the chroot (Asterisk and any stray `asterisk -rx`).
# One find, not a readlink per process: forks are slow in some sandboxes.
chroot_pids() {
  local pat=${ROOT//\\/\\\\}
  pat=${pat//\*/\\*}; pat=${pat//\?/\\?}; pat=${pat//\[/\\[}
  find /proc/[0-9]*/root -maxdepth 0 -lname "$pat" 2>/dev/null | cut -d/ -f3 || true
}

# Wait up to $1 seconds for every process in the chroot to be gone.
wait_gone() {
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  while [ -n "$(chroot_pids)" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# --- build --------------------------------------------------------------------------------

debian_mirror() {
  if [ -n "${INTERVENE_DEBIAN_MIRROR:-}" ]; then echo "$INTERVENE_DEBIAN_MIRROR"; return; fi
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || die "no Debian mirror in the host's apt sources; set INTERVENE_DEBIAN_MIRROR"
  echo "$m"
}

build_cleanup() {
  if [ -n "$BUILD_TMP" ] && [ -e "$BUILD_TMP" ]; then
    say "build interrupted: removing $BUILD_TMP"
    remove_tree "$BUILD_TMP" || true
  fi
}

do_build() {
  if [ -x "$ROOT/usr/sbin/asterisk" ]; then return 0; fi
  if ! command -v mmdebstrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing mmdebstrap (Debian package) to build the Asterisk chroot"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >/dev/null; } \
      || die "could not install mmdebstrap (apt-get install mmdebstrap)"
  fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
  mkdir -p "$(dirname "$ROOT")"
  local d
  for d in "$ROOT".tmp.*; do   # leftovers of an interrupted build
    if [ -d "$d" ]; then say "removing an unfinished build: $d"; remove_tree "$d"; fi
    [ -f "$d" ] && rm -f "$d"
  done
  if [ -e "$ROOT" ]; then say "$ROOT has no asterisk binary: rebuilding"; remove_tree "$ROOT"; fi

  local mirror t0
  mirror=$(debian_mirror)
  t0=$(now_ms)
  BUILD_TMP=$(mktemp -d "$ROOT.tmp.XXXXXX")
  trap build_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  say "building the Asterisk chroot (Debian sid) in $ROOT ..."
  # Check-Valid-Until: the mirror may serve a frozen snapshot whose Release file has expired.
  mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="$PACKAGES" sid "$BUILD_TMP" "deb $mirror sid main" >"$BUILD_TMP.log" 2>&1 \
    || { tail -n 30 "$BUILD_TMP.log" >&2; rm -f "$BUILD_TMP.log"; die "mmdebstrap failed"; }
  rm -f "$BUILD_TMP.log"
  chmod 755 "$BUILD_TMP"
  # Root here has no DAC override and the package's files belong to the asterisk uid: hand
  # them to root. /var/cache/asterisk is needed by res_http_media_cache (sound:http://...).
  # The package's ~100 sample configs are kept in /etc/asterisk.dist for reference; start
  # fills /etc/asterisk with our minimal set.
  chroot "$BUILD_TMP" /bin/sh -ec '
    mkdir -p /var/run/asterisk /var/cache/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk
    chown -R root:root /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk \
      /usr/share/asterisk /var/cache/asterisk /var/run/asterisk
    mv /etc/asterisk /etc/asterisk.dist
    mkdir /etc/asterisk'
  unmount_under "$BUILD_TMP"
  mv -T "$BUILD_TMP" "$ROOT"     # atomic: a chroot at $ROOT is always a finished one
  BUILD_TMP=""
  trap - EXIT INT TERM
  local ms=$(( $(now_ms) - t0 ))
  say "built in $((ms / 1000)).$(( ms % 1000 / 100 )) s: asterisk $(chroot "$ROOT" dpkg-query -W -f='${Version}' asterisk 2>/dev/null || echo '?')"
}

# --- configuration ------------------------------------------------------------------------

# A password from the environment, else the one stored in the run dir, else a new random one.
secret() {
  local var=$1 file=$RUN/$2 v
  v=${!var:-}
  if [ -z "$v" ]; then
    if [ -s "$file" ]; then
      v=$(cat "$file")
    else
      v=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
      (umask 077; printf '%s\n' "$v" >"$file")
    fi
  fi
  # Asterisk config files end a value at ';' and trim blanks: keep passwords plain.
  [[ $v =~ ^[A-Za-z0-9._~+@%=-]+$ ]] || die "$var: use letters, digits and ._~+@%=- only"
  printf '%s' "$v"
}

# The numbered test phones. Each phone is an endpoint, an auth and an aor of the same name,
# built from the templates in asterisk/pjsip.conf.
dev_phones() {
  local i
  printf '\n; ===== generated by scripts/asterisk.sh: test phones lead1..lead%d, rep1..rep%d =====\n' "$PHONES" "$PHONES"
  printf '[dev-phone-auth](!,phone-auth)\npassword=%s\n' "$SIP_PASSWORD"
  for i in $(seq 1 "$PHONES"); do
    printf '\n[lead%d](lead-phone)\nauth=lead%d\naors=lead%d\n[lead%d](dev-phone-auth)\nusername=lead%d\n[lead%d](phone-aor)\n' \
      "$i" "$i" "$i" "$i" "$i" "$i"
    printf '[rep%d](rep-phone)\nauth=rep%d\naors=rep%d\n[rep%d](dev-phone-auth)\nusername=rep%d\n[rep%d](phone-aor)\n' \
      "$i" "$i" "$i" "$i" "$i" "$i"
    # the lead flow dials leads by number (dial = "PJSIP/{number}"): the fictional New York
    # number +1 212 555 01NN is an endpoint that reaches lead N's registered phone
    printf '[+121255501%02d](lead-phone)\naors=lead%d\n' "$i" "$i"
  done
}

render_configs() {
  local etc=$ROOT/etc/asterisk
  rm -rf --one-file-system "$etc"
  mkdir -p "$etc"
  ARI_PASSWORD=$ARI_PASSWORD ARI_USER=$ARI_USER SIP_PASSWORD=$SIP_PASSWORD \
  SOUNDS=/usr/share/asterisk/sounds MOH=/usr/share/asterisk/moh \
  python3 - "$etc" "$HERE"/asterisk/*.conf "$HERE/dialplans/extensions.conf" <<'PY'
import os, re, sys
out, files = sys.argv[1], sys.argv[2:]
names = {"ARI_PASSWORD", "ARI_USER", "SIP_PASSWORD", "SOUNDS", "MOH"}
for path in files:
    text = open(path, encoding="utf-8").read()
    def sub(m):
        if m.group(1) not in names:
            sys.exit(f"{path}: unknown placeholder @@{m.group(1)}@@")
        return os.environ[m.group(1)]
    with open(os.path.join(out, os.path.basename(path)), "w", encoding="utf-8") as f:
        f.write(re.sub(r"@@([A-Z_]+)@@", sub, text))
PY
  dev_phones >>"$etc/pjsip.conf"
  # modules that run fine on their defaults but log an error for a missing file
  local f
  for f in chan_websocket websocket_client res_http_media_cache pjproject udptl ccss cdr cel features acl; do
    [ -e "$etc/$f.conf" ] || : >"$etc/$f.conf"
  done
}

# --- state --------------------------------------------------------------------------------

main_pid() {   # Asterisk's pid: the pid file's, if it is Asterisk in our chroot, else a search
  local pid
  if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if [ -d "/proc/$pid" ] && [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ]; then
      echo "$pid"; return 0
    fi
  fi
  for pid in $(chroot_pids); do   # the daemon (-f), not a remote console (-rx)
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = asterisk ] &&
       tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- ' -f'; then
      echo "$pid"; return 0
    fi
  done
  return 1
}

env_value() { [ -r "$ENVFILE" ] && sed -n "s/^$1=//p" "$ENVFILE" | head -n1; }

ari_code() {   # HTTP status of GET /ari/asterisk/info with the given password (000: no answer)
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u "$ARI_USER:$1" "$ARI_URL/ari/asterisk/info" || true
}

is_up() { main_pid >/dev/null && [ "$(ari_code "$(env_value INTERVENE_ARI_PASSWORD)")" = 200 ]; }

write_env() {
  (umask 077; cat >"$ENVFILE.tmp" <<EOF
INTERVENE_ARI_URL=$ARI_URL
INTERVENE_ARI_USER=$ARI_USER
INTERVENE_ARI_PASSWORD=$ARI_PASSWORD
INTERVENE_SIP_PASSWORD=$SIP_PASSWORD
INTERVENE_SIP_SERVER=$SIP_SERVER
INTERVENE_ASTERISK_ROOT=$ROOT
EOF
  )
  mv -f "$ENVFILE.tmp" "$ENVFILE"
}

# --- start / stop -------------------------------------------------------------------------

print_logs() {
  echo "---- $LOG (last 40 lines)" >&2
  tail -n 40 "$LOG" >&2 2>/dev/null || true
  echo "---- $ROOT/var/log/asterisk/messages.log (last 40 lines)" >&2
  tail -n 40 "$ROOT/var/log/asterisk/messages.log" >&2 2>/dev/null || true
}

do_start() {
  mkdir -p "$RUN"; chmod 700 "$RUN"
  ARI_PASSWORD=$(secret INTERVENE_ARI_PASSWORD ari_password)
  SIP_PASSWORD=$(secret INTERVENE_SIP_PASSWORD sip_password)
  if is_up; then
    if [ "$(env_value INTERVENE_ARI_PASSWORD)" = "$ARI_PASSWORD" ] &&
       [ "$(env_value INTERVENE_SIP_PASSWORD)" = "$SIP_PASSWORD" ]; then
      main_pid >"$PIDFILE.tmp" && mv -f "$PIDFILE.tmp" "$PIDFILE"
      say "already running (pid $(main_pid))"
      echo "$ENVFILE"
      return 0
    fi
    say "the passwords changed: restarting"
  fi
  do_stop quiet          # a stale pid file, a half-dead Asterisk, leftover mounts
  local code
  code=$(ari_code "$ARI_PASSWORD")
  [ "$code" = 000 ] || die "something else answers on $ARI_URL (HTTP $code); stop it first"
  if command -v ss >/dev/null && [ -n "$(ss -Hlun 'sport = :5060' 2>/dev/null)" ]; then
    die "UDP port 5060 is taken by another process (ss -lunp 'sport = :5060')"
  fi

  do_build
  render_configs
  # Name resolution as on the host (the chroot has no /etc/hosts of its own: "localhost" and
  # the host name would go to DNS, slowly or not at all on an offline machine).
  cp /etc/hosts "$ROOT/etc/hosts" 2>/dev/null || : >"$ROOT/etc/hosts"
  grep -qw localhost "$ROOT/etc/hosts" || echo "127.0.0.1 localhost" >>"$ROOT/etc/hosts"
  local host=${HOSTNAME:-$(cat /proc/sys/kernel/hostname)}
  grep -qw -- "$host" "$ROOT/etc/hosts" || echo "127.0.1.1 $host" >>"$ROOT/etc/hosts"
  [ -r /etc/resolv.conf ] && cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  [ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"
  [ -f "$ROOT/var/log/asterisk/messages.log" ] && mv -f "$ROOT/var/log/asterisk/messages.log" "$ROOT/var/log/asterisk/messages.log.1"
  ln -sfn "$ROOT/var/log/asterisk/messages.log" "$RUN/messages.log"

  local t0 pid
  t0=$(now_ms)
  # -f: no fork (not -c: a console on a closed stdin spins and floods the log). setsid: no
  # terminal signals. A clean environment, and no inherited descriptors besides 0-2 (our lock,
  # a caller's pipe: Asterisk holding one open would keep the lock or the caller waiting).
  (
    cd /
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      chroot "$ROOT" /usr/sbin/asterisk -U root -G root -f
  ) </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"

  local deadline=$((t0 + START_TIMEOUT * 1000))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      print_logs; rm -f "$PIDFILE"; do_stop quiet; die "Asterisk exited during start-up"
    fi
    [ "$(ari_code "$ARI_PASSWORD")" = 200 ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
      print_logs; do_stop quiet; die "ARI did not answer within ${START_TIMEOUT} s"
    fi
    sleep 0.1
  done
  local t_ari
  t_ari=$(now_ms)
  # ARI answers as soon as res_ari is loaded; wait for the rest (PJSIP, dialplan) too.
  timeout "$START_TIMEOUT" chroot "$ROOT" /usr/sbin/asterisk -rx "core waitfullybooted" >/dev/null 2>&1 9>&- \
    || { print_logs; do_stop quiet; die "Asterisk did not finish booting"; }
  write_env
  say "running (pid $pid): ARI after $((t_ari - t0)) ms, fully booted after $(( $(now_ms) - t0 )) ms"
  echo "$ENVFILE"
}

do_stop() {
  local quiet=${1:-} pid pids
  pid=$(main_pid || true)
  pids=$(chroot_pids)
  if [ -n "$pid" ] || [ -n "$pids" ]; then
    [ -n "$quiet" ] || say "stopping Asterisk${pid:+ (pid $pid)}"
    local grace=10   # seconds for a clean shutdown after "core stop now"; 1 if it was refused
    if ! { [ -S "$ROOT/run/asterisk/asterisk.ctl" ] &&
           timeout 10 chroot "$ROOT" /usr/sbin/asterisk -rx "core stop now" >/dev/null 2>&1 9>&-; }; then
      grace=1
    fi
    if ! wait_gone "$grace"; then
      pids=$(chroot_pids)
      say "still running after 'core stop now': SIGTERM $pids"
      kill -TERM $pids 2>/dev/null || true
      if ! wait_gone 5; then
        pids=$(chroot_pids)
        say "SIGKILL $pids"
        kill -KILL $pids 2>/dev/null || true
        wait_gone 5 || true
      fi
    fi
    [ -z "$(chroot_pids)" ] || die "could not stop the processes in $ROOT: $(chroot_pids)"
    # give init a moment to reap it, so that ps shows no <defunct> asterisk right after a stop
    if [ -n "$pid" ]; then
      local deadline=$(( $(now_ms) + 2000 ))
      while [ -e "/proc/$pid" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
    fi
  elif [ -z "$quiet" ]; then
    say "not running"
  fi
  # the pid file is ours unless it names a live Asterisk in another chroot (same run dir)
  if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if ! [ -d "/proc/$pid" ] || [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ] ||
       [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != asterisk ]; then
      rm -f "$PIDFILE"
    fi
  fi
  [ -d "$ROOT" ] && unmount_under "$ROOT"
  return 0
}

do_status() {
  if is_up; then
    echo "running (pid $(main_pid), $ARI_URL, env: $ENVFILE)"
    return 0
  fi
  if main_pid >/dev/null; then echo "not answering (pid $(main_pid))"; else echo "stopped"; fi
  return 3
}

do_cli() {
  [ $# -gt 0 ] || die "usage: $0 cli COMMAND..."
  main_pid >/dev/null || { echo "asterisk.sh: not running" >&2; exit 3; }
  exec chroot "$ROOT" /usr/sbin/asterisk -rx "$*"
}

lock() {   # one mutating command at a time per chroot
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$ROOT.lock"
  flock -w 300 9 || die "another asterisk.sh is busy with $ROOT"
}

[ "$(id -u)" = 0 ] || die "needs root (chroot, mount)"
cmd=${1:-}
shift || true
case $cmd in
  build)   lock; do_build; echo "$ROOT" ;;
  start)   lock; do_start ;;
  stop)    lock; do_stop ;;
  restart) lock; do_stop; do_start ;;
  status)  do_status ;;
  cli)     do_cli "$@" ;;
  clean)   lock; do_stop quiet; remove_tree "$ROOT"; say "removed $ROOT" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
