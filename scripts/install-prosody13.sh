#!/usr/bin/env bash
# Unpacks Prosody 13 and the matching prosody-modules from bookworm-backports beside
# the system's Prosody 0.12 (Debian 12), for the test suites: nothing is installed
# system-wide and no daemon starts. Its Lua dependencies are the ones 0.12 already
# pulled in. Usage: scripts/install-prosody13.sh [DEST] (default /opt/prosody13).
set -euo pipefail
dest=${1:-/opt/prosody13}
if [ -x "$dest/usr/bin/prosody" ]; then exit 0; fi

. "$(dirname "$0")/backports.sh"
ensure_backports

unpack_backports "$dest.tmp" prosody prosody-modules
# The launchers name their source, plugin and config directories at the top: point them here.
for exe in prosody prosodyctl; do
  sed -i \
    -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$dest/usr/lib/prosody';|" \
    -e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$dest/usr/lib/prosody/modules/';|" \
    -e "s|^CFG_CONFIGDIR=.*|CFG_CONFIGDIR='$dest/etc/prosody';|" \
    "$dest.tmp/usr/bin/$exe"
done
publish_unpacked "$dest"
"$dest/usr/bin/prosodyctl" --config /dev/null about 2>/dev/null | head -n 3 || true
echo "Prosody 13 unpacked in $dest"
