#!/usr/bin/env bash
# Unpacks ejabberd 24.12 (Debian 13's, from bookworm-backports) and the newer Erlang
# libraries it needs beside the system's ejabberd 23.01 (Debian 12), for the test
# suites: nothing is installed system-wide, no daemon starts, and the system Erlang
# (OTP 25) runs it. Libraries 24.12 takes unchanged from bookworm (goldrush, lager,
# jiffy, idna, base64url, unicode_util_compat) are the ones 23.01 already pulled in.
# Its ejabberdctl puts our library directory in ERL_LIBS, ahead of the system's, and
# starts the VM with every ebin here first in the code path (-pa), so no 23.01-era
# module is loaded. Usage: scripts/install-ejabberd24.sh [DEST] (default /opt/ejabberd24).
# It relies on the system ejabberd 23.01 package being installed (.ci/run does that first):
# its Erlang runtime, the ejabberd user and /etc/ejabberd/inetrc are shared.
set -euo pipefail
dest=${1:-/opt/ejabberd24}
if [ -x "$dest/usr/sbin/ejabberdctl" ]; then exit 0; fi
command -v erl >/dev/null && id ejabberd >/dev/null 2>&1 \
  || { echo "install-ejabberd24: install Debian 12's ejabberd first (Erlang, the ejabberd user)" >&2; exit 1; }

. "$(dirname "$0")/backports.sh"
ensure_backports

# ejabberd 24.12 plus every dependency whose bookworm version is older than 24.12 asks
# for; erlang-p1-oauth2 is not a Depends but X-OAUTH2 (oauth_db_type) needs it.
pkgs=(ejabberd erlang-jose erlang-p1-acme erlang-p1-cache-tab erlang-p1-eimp erlang-p1-mqtree
  erlang-p1-pkix erlang-p1-stringprep erlang-p1-stun erlang-p1-tls erlang-p1-utils erlang-p1-xml
  erlang-p1-xmpp erlang-p1-yaml erlang-p1-yconf erlang-p1-zlib erlang-p1-oauth2)
unpack_backports "$dest.tmp" "${pkgs[@]}"
ctl="$dest.tmp/usr/sbin/ejabberdctl"
# Our ebins first: -pa puts them ahead of /usr/lib/erlang/lib, where 23.01's libraries live.
# Each by the directory named after its application (fast_tls-1.1.22, not the p1_tls-1.1.22
# it links to): code:priv_dir/1, which finds the NIFs, goes by that name.
pa=$(cd "$dest.tmp" && for e in usr/lib/erlang/lib/*/ebin usr/lib/x86_64-linux-gnu/ejabberd-24.12/ebin; do
  for app in "$e"/*.app; do
    dir=${e%/ebin}; case ${dir##*/} in "$(basename "$app" .app)"-*) printf ' %s' "$dest/$e" ;; esac
  done; done)
sed -i \
  -e "s|^ERL_LIBS=.*|ERL_LIBS='$dest/usr/lib/x86_64-linux-gnu:$dest/usr/lib/erlang/lib'|" \
  -e "s|^ERLANG_OPTS=\"+K|ERLANG_OPTS=\"-pa$pa +K|" \
  -e "s|^SCRIPT_DIR=.*|SCRIPT_DIR='$dest/usr/sbin'|" \
  "$ctl"
grep -q "^ERL_LIBS='$dest" "$ctl" && grep -q "^ERLANG_OPTS=\"-pa $dest" "$ctl" \
  || { echo "install-ejabberd24: ejabberdctl's layout changed, paths not rewritten" >&2; exit 1; }
publish_unpacked "$dest"
echo "ejabberd 24.12 unpacked in $dest (start: $dest/usr/sbin/ejabberdctl)"
