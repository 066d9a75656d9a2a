#!/usr/bin/env bash
# Load dialplans/freepbx/*.conf into a throwaway Asterisk laid out like FreePBX, and check them.
#
#   scripts/freepbx_check.sh            exit 0 when every check passes, 1 when one fails
#
# The files an admin adds to a FreePBX box only work inside FreePBX's own files: extensions.conf
# includes extensions_custom.conf, ari.conf includes ari_additional_custom.conf, pjsip.conf and
# pjsip.endpoint.conf include the pjsip.endpoint_custom*.conf files. This script writes stubs of
# FreePBX's files in that layout (from-internal, from-pstn, from-trunk, ext-local, ext-queues,
# an inbound route, a Custom Destination with return, an extension 1001 and a trunk "carrier",
# as FreePBX 16/17 generate them, cut down to what the custom files touch), adds the custom files
# unchanged (the ARI password and the commented examples of the post file filled in), starts a
# second Asterisk on them and asks it: the contexts exist and are reachable the FreePBX way, the
# ARI user exists, the endpoints carry intervene's media options, and the log has no config errors.
#
# It does not touch the shared local Asterisk (scripts/asterisk.sh): it uses the same Debian sid
# chroot's binaries, read-only, under a root directory of its own in /tmp (own /etc/asterisk,
# control socket, logs), with SIP on a free loopback port and no HTTP server; everything is
# unmounted and removed at the end. Needs root (chroot, mount), like scripts/asterisk.sh.
#
# Environment: INTERVENE_ASTERISK_ROOT (the chroot, as for scripts/asterisk.sh);
# INTERVENE_FREEPBX_SRC: the directory of custom files to check (default dialplans/freepbx);
# INTERVENE_FREEPBX_KEEP=1 keeps the scratch directory (configs, logs) for a look afterwards;
# INTERVENE_FREEPBX_VERBOSE=1 prints what each CLI command answered.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(realpath -m "${INTERVENE_ASTERISK_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/intervene/asterisk-sid}")
SRC=$(realpath -m "${INTERVENE_FREEPBX_SRC:-$HERE/dialplans/freepbx}")
WORK="" NEW="" PID=""
FAILED=0

say() { echo "freepbx_check: $*" >&2; }
die() { say "$*"; exit 1; }
pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; FAILED=1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, mount)"
if [ ! -x "$ROOT/usr/sbin/asterisk" ]; then
  "$HERE/scripts/asterisk.sh" build >/dev/null || die "no Asterisk chroot at $ROOT and the build failed"
fi

cleanup() {
  set +e
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    timeout 10 chroot "$NEW" /usr/sbin/asterisk -rx "core stop now" >/dev/null 2>&1
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null
  fi
  if [ -n "$NEW" ]; then
    for m in "$NEW/dev" "$NEW/proc" "$NEW/usr"; do
      mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
    done
  fi
  if [ -n "$WORK" ]; then
    if [ "${INTERVENE_FREEPBX_KEEP:-}" = 1 ]; then say "kept $WORK"
    elif ! awk -v d="$NEW" 'index($2, d) == 1 {f=1} END {exit !f}' /proc/mounts; then
      rm -rf --one-file-system -- "$WORK"
    else say "left $WORK: something is still mounted in it"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- a root of our own: the chroot's /usr read-only, everything else ours ---------------------
WORK=$(mktemp -d /tmp/intervene-freepbx.XXXXXX)
NEW=$WORK/root
mkdir -p "$NEW"/{usr,proc,dev,tmp,run/asterisk,var/log/asterisk,var/spool/asterisk,var/cache/asterisk,var/lib}
chmod 1777 "$NEW/tmp"
for l in bin sbin lib lib64; do [ -L "$ROOT/$l" ] && ln -s "$(readlink "$ROOT/$l")" "$NEW/$l"; done
ln -s /run "$NEW/var/run"
(cd "$ROOT/etc" && tar --exclude=./asterisk --exclude=./asterisk.dist -cf - .) | (cd "$NEW" && mkdir etc && cd etc && tar -xf -)
cp -a "$ROOT/var/lib/asterisk" "$NEW/var/lib/asterisk"
rm -f "$NEW/var/lib/asterisk/astdb.sqlite3"
mount --bind "$ROOT/usr" "$NEW/usr"
mount -o remount,bind,ro "$NEW/usr"
mount -t proc proc "$NEW/proc"
mount --bind /dev "$NEW/dev"

# ---- FreePBX's files (stubs) and the custom files --------------------------------------------
ETC=$NEW/etc/asterisk
mkdir -p "$ETC"
SIP_PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ARI_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

cp "$HERE/asterisk/asterisk.conf" "$HERE/asterisk/logger.conf" "$HERE/asterisk/modules.conf" \
   "$HERE/asterisk/indications.conf" "$ETC/"
cat >>"$ETC/modules.conf" <<'EOF'
; freepbx_check: nothing that listens or reaches out beyond what the check needs
noload => res_pjsip_transport_websocket.so
noload => res_http_media_cache.so
EOF
printf '[general]\nenabled=no\n' >"$ETC/http.conf"              # no HTTP server: nothing to collide with
printf '[general]\nrtpstart=31000\nrtpend=31099\n' >"$ETC/rtp.conf"
for f in chan_websocket websocket_client pjproject udptl ccss cdr cel features acl musiconhold; do
  : >"$ETC/$f.conf"
done

# extensions.conf as FreePBX's framework ships it (amp_conf/astetc/extensions.conf), cut down
cat >"$ETC/extensions.conf" <<'EOF'
; stub of FreePBX's extensions.conf: the generated dialplan, then the admin's custom file
#include extensions_additional.conf
#include extensions_custom.conf

[from-trunk]                    ; just an alias since VoIP shouldn't be called PSTN
include => from-pstn

[from-pstn]
include => from-pstn-custom
include => ext-did
EOF
cat >"$ETC/extensions_additional.conf" <<'EOF'
; stub of what FreePBX generates (extensions_additional.conf), as FreePBX 16/17 name it
[globals]
#include globals_custom.conf

[from-internal]
include => from-internal-xfer
include => bad-number

[from-internal-xfer]
include => from-internal-custom
include => from-internal-additional

[from-internal-additional]
include => ext-local
include => ext-queues

[bad-number]
exten => _X.,1,Playback(silence/1&cannot-complete-as-dialed&check-number-dial-again,noanswer)
 same => n,Hangup()

[from-pstn-custom]

[ext-local]
exten => 1001,1,Set(__RINGTIMER=${IF($["${DB(AMPUSER/1001/ringtimer)}" > "0"]?${DB(AMPUSER/1001/ringtimer)}:15)})
 same => n,Gosub(sub-user-callerid,s,1())
 same => n,Dial(PJSIP/1001,${RINGTIMER})
 same => n,Hangup()

[sub-user-callerid]
exten => s,1,NoOp(stub of FreePBX's caller id handling)
 same => n,Return()

; Connectivity > Inbound Routes: DID 2125550100 -> Custom Destination "intervene-freepbx,1001,1"
; (Return = No: FreePBX jumps to the target)
[ext-did]
include => ext-did-0002

[ext-did-0002]
exten => 2125550100,1,Set(__FROM_DID=${EXTEN})
 same => n,Set(CDR(did)=${FROM_DID})
 same => n(dest-ext),Goto(intervene-freepbx,1001,1)

; Admin > Custom Destinations with Return = Yes: FreePBX's customappsreg wraps the target in
; a Gosub and goes on to "Destination after return" (here: hang up)
[customdests]
exten => dest-1,1,NoOp(Entering Custom Destination intervene: rep 1001)
 same => n,Gosub(intervene-freepbx,1001,1())
 same => n,NoOp(Returned from Custom Destination intervene: rep 1001)
 same => n,Goto(app-blackhole,hangup,1)
exten => dest-2,1,NoOp(Entering Custom Destination intervene: rep 1002, team support)
 same => n,Gosub(intervene-hook,s,1(PJSIP/1002,support))
 same => n,NoOp(Returned from Custom Destination intervene: rep 1002, team support)
 same => n,Goto(app-blackhole,hangup,1)

; Applications > Queues: queue 400, Fail Over Destination = the Custom Destination above
[ext-queues]
exten => 400,1,Answer()
 same => n,Queue(400,t,,,60)
 same => n,Goto(customdests,dest-1,1)

[app-blackhole]
exten => hangup,1,NoOp(Blackhole Dest: Hangup)
 same => n,Hangup()
EOF
printf '; stub of FreePBX globals_custom.conf\nINTERVENE_TEAM=sales\n' >"$ETC/globals_custom.conf"
cp "$SRC/extensions_custom.conf" "$ETC/extensions_custom.conf"

# ari.conf as FreePBX's arimanager writes it: [general], then the includes
cat >"$ETC/ari.conf" <<'EOF'
; stub of FreePBX's ari.conf
[general]
enabled=yes
pretty=no
#include ari_general_additional.conf
#include ari_general_custom.conf
#include ari_additional.conf
#include ari_additional_custom.conf
EOF
: >"$ETC/ari_general_additional.conf"
: >"$ETC/ari_general_custom.conf"
printf '[freepbxuser]\ntype=user\nread_only=no\npassword=stub-freepbx-password\n' >"$ETC/ari_additional.conf"
sed "s/@@ARI_PASSWORD@@/$ARI_PASSWORD/" "$SRC/ari_additional_custom.conf" >"$ETC/ari_additional_custom.conf"

# pjsip.conf as FreePBX's core module (functions.inc/drivers/PJSip.class.php) writes it
cat >"$ETC/pjsip.conf" <<'EOF'
; stub of FreePBX's pjsip.conf
#include pjsip_custom.conf
#include pjsip.transports.conf
#include pjsip.transports_custom_post.conf
#include pjsip.endpoint.conf
#include pjsip.endpoint_custom_post.conf
#include pjsip.aor.conf
#include pjsip.aor_custom_post.conf
#include pjsip.auth.conf
#include pjsip.auth_custom_post.conf
#include pjsip.registration.conf
#include pjsip.registration_custom_post.conf
#include pjsip.identify.conf
#include pjsip.identify_custom_post.conf

[global]
type=global
user_agent=FreePBX-stub
#include pjsip_custom_post.conf
EOF
for f in pjsip_custom pjsip.transports_custom_post pjsip.aor_custom_post pjsip.auth_custom_post \
         pjsip.registration pjsip.registration_custom_post pjsip.registration_custom \
         pjsip.identify_custom_post pjsip.identify_custom pjsip.auth_custom pjsip.aor_custom \
         pjsip.transports_custom pjsip_custom_post; do
  : >"$ETC/$f.conf"
done
# FreePBX binds 0.0.0.0:5060; the check binds loopback on a free port
printf '#include pjsip.transports_custom.conf\n[0.0.0.0-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:%s\n' \
  "$SIP_PORT" >"$ETC/pjsip.transports.conf"
cat >"$ETC/pjsip.endpoint.conf" <<'EOF'
#include pjsip.endpoint_custom.conf
[1001]
type=endpoint
aors=1001
auth=1001-auth
tos_audio=ef
allow=ulaw,alaw,gsm,g726,g722,h264,mpeg4
context=from-internal
callerid=Sam <1001>
dtmf_mode=rfc4733
direct_media=yes
rtp_symmetric=yes
rewrite_contact=yes
force_rport=yes
transport=0.0.0.0-udp
[1002]
type=endpoint
aors=1002
auth=1002-auth
allow=ulaw,alaw
context=from-internal
direct_media=yes
transport=0.0.0.0-udp
[carrier]
type=endpoint
transport=0.0.0.0-udp
context=from-pstn
disallow=all
allow=ulaw,alaw
aors=carrier
rtp_symmetric=yes
direct_media=yes
EOF
printf '[1001]\ntype=aor\nmax_contacts=1\n[1002]\ntype=aor\nmax_contacts=1\n[carrier]\ntype=aor\ncontact=sip:192.0.2.10:5060\n' \
  >"$ETC/pjsip.aor.conf"
printf '[1001-auth]\ntype=auth\nauth_type=userpass\nusername=1001\npassword=stub\n[1002-auth]\ntype=auth\nauth_type=userpass\nusername=1002\npassword=stub\n' \
  >"$ETC/pjsip.auth.conf"
printf '[carrier]\ntype=identify\nendpoint=carrier\nmatch=192.0.2.10\n' >"$ETC/pjsip.identify.conf"
cp "$SRC/pjsip.endpoint_custom.conf" "$ETC/pjsip.endpoint_custom.conf"
sed 's/^;; \{0,1\}//' "$SRC/pjsip.endpoint_custom_post.conf" >"$ETC/pjsip.endpoint_custom_post.conf"

# ---- start it ---------------------------------------------------------------------------------
(
  cd /
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
  done
  exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    chroot "$NEW" /usr/sbin/asterisk -U root -G root -f
) </dev/null >"$WORK/asterisk.out" 2>&1 &
PID=$!
cli() { timeout 20 chroot "$NEW" /usr/sbin/asterisk -rx "$1" 2>&1; }
for _ in $(seq 300); do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/asterisk.out" >&2; die "the scratch Asterisk exited during start-up"; }
  [ -S "$NEW/run/asterisk/asterisk.ctl" ] && break
  sleep 0.1
done
cli "core waitfullybooted" >/dev/null || die "the scratch Asterisk did not finish booting"
echo "asterisk: $(cli "core show version" | head -n1)"

# ---- the checks -------------------------------------------------------------------------------
expect() {   # expect NAME CLI-COMMAND REGEX...: every regex must be found in the command's output
  local name=$1 cmd=$2 out re
  shift 2
  out=$(cli "$cmd")
  [ "${INTERVENE_FREEPBX_VERBOSE:-}" != 1 ] || { echo "----- $cmd"; cat <<<"$out"; }
  for re in "$@"; do
    if ! grep -Eq -- "$re" <<<"$out"; then
      fail "$name: \`$cmd\` has no /$re/"
      sed 's/^/      /' <<<"$out" | head -n 40
      return
    fi
  done
  pass "$name"
}

expect "hook context loaded" "dialplan show intervene-hook" \
  "\[ Context 'intervene-hook' created by 'pbx_config' \]" "Stasis\(intervene,rep=" "Dial\(\\$\{INTERVENE_REP\},30\)"
expect "cluster hook loaded" "dialplan show intervene-cluster-hook" "Stasis\(\\$\{IV_APP\}"
expect "custom destination context: rep by extension" "dialplan show 1001@intervene-freepbx" \
  "'_X\.' =>" "Gosub\(intervene-hook,s,1\(PJSIP/\\$\{EXTEN\}"
expect "queue member context" "dialplan show 1001@intervene-queue-member" "Gosub\(intervene-hook,s,1"
expect "internal test code reachable from from-internal" "dialplan show *4681001@from-internal" \
  "Included context 'from-internal-custom'|'_\*468X\.' =>" "Goto\(intervene-freepbx"
expect "inbound route (from-trunk -> from-pstn -> DID) reaches the custom destination" \
  "dialplan show 2125550100@from-trunk" "Goto\(intervene-freepbx,1001,1\)"
expect "custom destination with return (Gosub)" "dialplan show dest-1@customdests" \
  "Gosub\(intervene-freepbx,1001,1\(\)\)"
expect "queue fail over destination" "dialplan show 400@ext-queues" "Goto\(customdests,dest-1,1\)"
expect "ARI user beside FreePBX's" "ari show users" "intervene" "freepbxuser"
expect "ARI user can write" "ari show user intervene" "Username: intervene" "Read only\?: *No"
for ep in 1001 1002 carrier; do
  expect "endpoint $ep has intervene's media options" "pjsip show endpoint $ep" \
    "direct_media +: +false" "rtp_symmetric +: +true" "force_rport +: +true" "rewrite_contact +: +true" \
    "dtmf_mode +: +rfc4733" "allow +: +\(ulaw\|g722"
done
expect "the trunk keeps a-law after the template" "pjsip show endpoint carrier" "allow +: +\(ulaw\|alaw\|g722\)|allow +: +\(ulaw\|g722\|alaw\)"
expect "1001 keeps FreePBX's own settings" "pjsip show endpoint 1001" "context +: +from-internal" "callerid +: +\"Sam\" <1001>"

LOG=$NEW/var/log/asterisk/messages.log
# config errors and warnings: the parser, the dialplan, PJSIP's and ARI's config
problems=$(grep -E "(ERROR|WARNING)\[" "$LOG" "$WORK/asterisk.out" 2>/dev/null \
  | grep -Ei "config|pjsip|sorcery|ari|include|extensions|parse|category|inherit" \
  | grep -v "No music on hold classes configured" || true)   # the stub has no music on hold
if [ -z "$problems" ]; then
  pass "no config errors or warnings in the log"
else
  fail "config errors or warnings in the log:"
  sed 's/^/      /' <<<"$problems" | head -n 40
fi

[ "$FAILED" = 0 ] && echo "all FreePBX checks passed" || echo "some FreePBX checks FAILED"
exit "$FAILED"
