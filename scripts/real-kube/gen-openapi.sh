#!/usr/bin/env bash
# Generates pkg/generated/openapi/zz_generated.openapi.go, which the v1.20.2
# tarball lacks (upstream's make generates it), with the vendored openapi-gen
# and the same inputs as upstream's Makefile.generated_files.
#   gen-openapi.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
S=$1 W=$2
go=/usr/lib/go-1.19/bin/go
cd "$S"
"$go" build -o "$W/openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen
find -H . -not \( \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune \) -type f -name \*.go \
  | sed 's|^./staging/src|vendor|; s|/[^/]*$||; s|^./||' | LC_ALL=C sort -u >"$W/all_go_dirs.txt"
while read -r d; do find "$d" -maxdepth 1 -type f -name '*.go'; done <"$W/all_go_dirs.txt" 2>/dev/null \
  | xargs grep --color=never -l '^// *+k8s:' >"$W/tag_files.txt" || true
grep -v "^vendor/k8s.io/code-generator/\|^vendor/k8s.io/sample-apiserver/" "$W/tag_files.txt" \
  | xargs grep --color=never -l '+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u >"$W/openapi_dirs.txt"
G="$W/gopath-gen"
mkdir -p "$G/src/k8s.io"
ln -sfn "$S" "$G/src/k8s.io/kubernetes"
cd "$G/src/k8s.io/kubernetes"
inputs=$(sed 's|^|k8s.io/kubernetes/|' "$W/openapi_dirs.txt" | paste -sd, -)
GOPATH="$G" GO111MODULE=off GOFLAGS= PATH=/usr/lib/go-1.19/bin:$PATH "$W/openapi-gen" --logtostderr=false \
  -i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
  -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$W/violations.report"
rm -rf "$G"
