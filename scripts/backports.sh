# Sourced by the install-*.sh scripts: what unpacking a package from
# bookworm-backports beside the system's own version takes, in one place.

# Adds bookworm-backports to apt's sources if no source names it yet.
ensure_backports() {
  grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
}

# unpack_backports DIR PKG...: downloads the packages' backports versions and
# unpacks them all into DIR (nothing is installed, no maintainer script runs).
unpack_backports() {
  local dir=$1 work
  shift
  work=$(mktemp -d)
  chmod 755 "$work"
  # apt's download user must be able to write here.
  chown _apt "$work" 2>/dev/null || true
  (cd "$work" && apt-get download -qq "${@/%//bookworm-backports}")
  mkdir -p "$dir"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$work"
}

# publish_unpacked DEST: makes DEST.tmp readable by the servers' own users and moves it into place.
publish_unpacked() {
  chmod -R a+rX "$1.tmp"
  rm -rf "$1"
  mv "$1.tmp" "$1"
}
