#!/usr/bin/env bash
# Builds oispd's Debian package: the binary, /etc/oispd/config.yaml (the
# reference deployment, config/otel-style.yaml, as a conffile), the systemd
# unit and maintainer scripts of deploy/debian/, and the docs.
#
#   bash scripts/build-deb.sh                       # release build, package in ./dist
#   bash scripts/build-deb.sh --binary PATH --out DIR
#
# dpkg-deb, not cargo-deb: it ships with dpkg on every Debian machine (no
# download, no build of a packaging tool in CI), and the package is a few
# files whose layout this script states plainly.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "$binary" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/oispd-target}
  cargo build --release --locked --bin oispd
  binary="$CARGO_TARGET_DIR/release/oispd"
fi
[ -x "$binary" ] || { echo "build-deb: $binary is not an executable" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
# Depends: the Debian packages of the shared libraries the binary links
# (dpkg knows a library by the path it installed, /lib or /usr/lib).
package_of() {
  local lib=$1 real
  real=$(realpath "$lib")
  for p in "$lib" "$real" "${lib/#\/lib\//\/usr\/lib\/}" "${real/#\/usr\/lib\//\/lib\/}"; do
    dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  echo "build-deb: no Debian package provides $lib" >&2
  return 1
}
depends=$(for lib in $(ldd "$binary" | awk '/=> \//{print $3}'); do package_of "$lib"; done |
  sort -u | paste -sd, | sed 's/,/, /g')

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
install -D -m 0755 "$binary" "$root/usr/bin/oispd"
# Debug info stays out of the package (the release profile keeps line tables).
strip --strip-debug "$root/usr/bin/oispd"
install -D -m 0644 config/otel-style.yaml "$root/etc/oispd/config.yaml"
install -D -m 0644 deploy/debian/oispd.service "$root/lib/systemd/system/oispd.service"
install -D -m 0644 README.md "$root/usr/share/doc/oispd/README.md"
install -D -m 0644 docs/security.md "$root/usr/share/doc/oispd/security.md"
install -D -m 0644 LICENSE "$root/usr/share/doc/oispd/copyright"
install -d -m 0755 "$root/DEBIAN"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
echo /etc/oispd/config.yaml >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<CONTROL
Package: oispd
Version: $version
Architecture: $arch
Maintainer: oispd developers <oispd@localhost>
Depends: $depends, passwd
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Homepage: https://oisp.dev
Description: AI activity sensor: eBPF capture of AI API calls to OpenTelemetry pipelines
 oispd captures AI API traffic in plaintext at the TLS boundary with eBPF,
 decodes it into OISP events and runs them through an
 OpenTelemetry-Collector-style pipeline. It runs as its own user with only
 the capabilities its receivers need.
CONTROL

mkdir -p "$out"
deb="$out/oispd_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
