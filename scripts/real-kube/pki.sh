#!/usr/bin/env bash
# Makes, under DIR, what a test control plane on 127.0.0.1 needs: a CA, the API
# server's and the stand-in kubelet's serving certificates, service-account
# keys, and static bearer tokens (tokens.csv: token,user,uid,"groups"), one per
# user the tests act as. Everything is for 127.0.0.1 only.
#   pki.sh DIR
set -euo pipefail
P=$1
mkdir -p "$P"
cd "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=clusterdeck-test-ca 2>/dev/null
cert() { # NAME SAN
  printf '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$2" >"$1.cnf"
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" -config "$1.cnf" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$1.cnf" -extensions ext 2>/dev/null
}
cert server 'IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1'
cert kubelet 'IP:127.0.0.1,DNS:node-1'
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
tok() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
{
  echo "$(tok),admin,uid-admin,\"system:masters\""
  echo "$(tok),system:kube-controller-manager,uid-kcm,\"system:masters\""
  echo "$(tok),fake-kubelet,uid-fk,\"system:masters\""
  echo "$(tok),operator,uid-op,\"system:masters\""
  echo "$(tok),viewer,uid-viewer,\"clusterdeck:viewers\""
  echo "$(tok),podsonly,uid-po,\"clusterdeck:pods-only\""
  echo "$(tok),scaler,uid-sc,\"clusterdeck:viewers,clusterdeck:scalers\""
} >tokens.csv
# One token file per user, for kubeconfigs and the stand-in kubelet.
while IFS=, read -r token user _; do printf '%s' "$token" >"token-${user//:/_}"; done <tokens.csv
chmod 600 ./*.key tokens.csv token-*
