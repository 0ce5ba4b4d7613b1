#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from Debian's `kubernetes`
# source package (the upstream v1.20.2 tarball with its vendor/) with Debian's
# Go 1.19, offline, and caches them outside the clone, keyed by the package's
# version: a second run on the same machine only prints where they are.
#
#   scripts/real-kube/build.sh            build if not cached; print the bin folder
#   scripts/real-kube/build.sh --check    print the bin folder if built, else fail
#   CLUSTERDECK_CACHE=DIR (default ~/.cache/clusterdeck) holds real-kube/<version>/
#
# Needs (installed by .ci/run): golang-1.19-go etcd-server etcd-client
# golang-github-modern-go-reflect2-dev openssl curl python3.
# Three fixes make it build and run with Go 1.19 (see README.md here).
set -euo pipefail
check=false
[ "${1:-}" = --check ] && check=true
here=$(cd "$(dirname "$0")" && pwd)
cache=${CLUSTERDECK_CACHE:-$HOME/.cache/clusterdeck}/real-kube
go=/usr/lib/go-1.19/bin/go
if $check; then
  version=$(cat "$cache/apt/version" 2>/dev/null || true)
  bin="$cache/$version/bin"
  if [ -n "$version" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
    echo "$bin"
    exit 0
  fi
  echo "kube-apiserver is not built (looked in $cache)" >&2
  exit 1
fi
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
for need in "$go:golang-1.19-go" "$reflect2:golang-github-modern-go-reflect2-dev"; do
  [ -e "${need%%:*}" ] || { echo "real-kube: ${need%%:*} is missing: apt-get install ${need##*:}" >&2; exit 1; }
done

# Debian's source lines, kept apart from the system's lists: the same mirror
# and suite apt already uses for binaries.
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial"
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | grep -E '^(deb |URIs:)' | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)
echo "deb-src ${mirror:-http://deb.debian.org/debian} bookworm main" >"$apt_dir/src.list"
apt_opts=(-o Dir::Etc::SourceList="$apt_dir/src.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$apt_dir/lists")
if [ ! -s "$apt_dir/version" ]; then
  apt-get "${apt_opts[@]}" update -qq
  apt-cache "${apt_opts[@]}" showsrc kubernetes | awk '/^Version:/{print $2; exit}' >"$apt_dir/version"
fi
version=$(cat "$apt_dir/version")
[ -n "$version" ] || { echo "real-kube: no kubernetes source package found" >&2; rm -f "$apt_dir/version"; exit 1; }
dest="$cache/$version"
if [ -x "$dest/bin/kube-apiserver" ] && [ -x "$dest/bin/kube-controller-manager" ]; then
  echo "$dest/bin"
  exit 0
fi

work="$dest/work"
mkdir -p "$work" "$dest/bin"
cd "$work"
if [ ! -d src ]; then
  [ -n "$(ls kubernetes_*.orig.tar.gz 2>/dev/null)" ] || apt-get "${apt_opts[@]}" source --download-only kubernetes >&2
  mkdir -p src.new && tar xzf kubernetes_*.orig.tar.gz -C src.new && mv src.new src
fi
S=$(ls -d "$work"/src/kubernetes-*/ | head -n1)
S=${S%/}
export GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 GOCACHE="$cache/gocache" GOPATH="$work/gopath"

# Fix 1: Go 1.19 reads vendor/modules.txt in another order than Go 1.15 wrote it.
cp "$here/vendor-modules.txt" "$S/vendor/modules.txt"
# Fix 3: the vendored reflect2 1.0.1 crashes (SIGSEGV in mapiternext) on Go >= 1.18.
rm -rf "$S/vendor/github.com/modern-go/reflect2"
cp -r "$reflect2" "$S/vendor/github.com/modern-go/reflect2"
# Fix 2: the tarball lacks the generated OpenAPI definitions.
[ -s "$S/pkg/generated/openapi/zz_generated.openapi.go" ] || "$here/gen-openapi.sh" "$S" "$work" >&2

ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=v1.20.2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
done
cd "$S"
for c in kube-apiserver kube-controller-manager; do
  start=$(date +%s)
  echo "real-kube: building $c" >&2
  nice -n 5 "$go" build -ldflags "$ld" -o "$dest/bin/$c.new" "./cmd/$c"
  mv "$dest/bin/$c.new" "$dest/bin/$c"
  echo "real-kube: built $c in $(($(date +%s) - start)) s" >&2
done
# The source and the Go build cache are not needed to run; keep the cache small.
rm -rf "$work" "$cache/gocache"
echo "$dest/bin"
