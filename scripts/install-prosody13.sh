#!/usr/bin/env bash
# Unpacks Prosody 13 and the matching prosody-modules from bookworm-backports beside
# the system's Prosody 0.12 (Debian 12), for the test suites: nothing is installed
# system-wide and no daemon starts. Its Lua dependencies are the ones 0.12 already
# pulled in. Usage: scripts/install-prosody13.sh [DEST] (default /opt/prosody13).
set -euo pipefail
dest=${1:-/opt/prosody13}
if [ -x "$dest/usr/bin/prosody" ]; then exit 0; fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# apt's download user must be able to write here.
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get download -qq prosody/bookworm-backports prosody-modules/bookworm-backports)
mkdir -p "$dest.tmp"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$dest.tmp"; done
# The launchers name their source, plugin and config directories at the top: point them here.
for exe in prosody prosodyctl; do
  sed -i \
    -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$dest/usr/lib/prosody';|" \
    -e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$dest/usr/lib/prosody/modules/';|" \
    -e "s|^CFG_CONFIGDIR=.*|CFG_CONFIGDIR='$dest/etc/prosody';|" \
    "$dest.tmp/usr/bin/$exe"
done
chmod -R a+rX "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
"$dest/usr/bin/prosodyctl" --config /dev/null about 2>/dev/null | head -n 3 || true
echo "Prosody 13 unpacked in $dest"
