#!/usr/bin/env bash
# A development CA and the workload certificates of microblog's mTLS
# (deploy/README.md, "mTLS and authorization"), made with the openssl CLI
# (Debian 12's OpenSSL 3). FOR DEVELOPMENT ONLY: the keys are unencrypted
# files; production uses cert-manager (deploy/k8s/components/cert-manager)
# or its own PKI.
#
#   scripts/dev-ca.sh [--namespace NS] [--out DIR] [--days N] [--new-ca]
#
#   --namespace NS  the namespace the identities and DNS names are for
#                   (default microblog-dev)
#   --out DIR       output directory (default ./dev-ca-<namespace>)
#   --days N        validity of the CA and the certificates (default 3650)
#   --new-ca        make a new CA even if DIR/ca.crt and DIR/ca.key exist
#                   (by default they are reused, so re-running renews the
#                   workload certificates under the same CA)
#
# Writes DIR/ca.crt, DIR/ca.key and, for each identity, DIR/<name>/tls.crt,
# tls.key and ca.crt (the shape of a kubernetes.io/tls Secret made by
# cert-manager), then prints the kubectl commands that create the Secrets.
#
#   name                     URI SAN (identity)                              DNS/IP SANs          usages
#   user-service             spiffe://microblog/ns/NS/sa/user-service            service names (*)    server + client auth
#   post-service             spiffe://microblog/ns/NS/sa/post-service            service names (*)    server + client auth
#   post-service-reconcile   spiffe://microblog/ns/NS/sa/post-service-reconcile  -                    client auth
#   microblog-admin          spiffe://microblog/ns/NS/sa/microblog-admin         -                    client auth
#
# (*) <svc>, <svc>.NS.svc, <svc>.NS.svc.cluster.local,
#     <svc>-headless.NS.svc.cluster.local, localhost, IP 127.0.0.1 (the
#     `probe` subcommand of the exec probes dials 127.0.0.1).
#
# microblog-admin is an operator's identity (a `privileged` rule of the
# authorization policies): use it with grpcurl, e.g.
#   grpcurl -cacert DIR/ca.crt -cert DIR/microblog-admin/tls.crt \
#     -key DIR/microblog-admin/tls.key localhost:50052 list
#
# The dev overlay's committed DEV-ONLY certificates
# (deploy/k8s/overlays/dev/tls/) were made with
#   scripts/dev-ca.sh --namespace microblog-dev --out deploy/k8s/overlays/dev/tls --new-ca
set -euo pipefail

namespace=microblog-dev
out=
days=3650
new_ca=0

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --namespace) namespace="$2"; shift 2 ;;
    --namespace=*) namespace="${1#*=}"; shift ;;
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --days) days="$2"; shift 2 ;;
    --days=*) days="${1#*=}"; shift ;;
    --new-ca) new_ca=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "dev-ca.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ "$namespace" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]]; then
  echo "dev-ca.sh: not a namespace name: $namespace" >&2
  exit 2
fi
if ! [[ "$days" =~ ^[1-9][0-9]*$ ]]; then
  echo "dev-ca.sh: --days wants a positive number of days: $days" >&2
  exit 2
fi
out="${out:-./dev-ca-$namespace}"
command -v openssl >/dev/null || { echo "dev-ca.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

spiffe() { echo "spiffe://microblog/ns/$namespace/sa/$1"; }

if [[ $new_ca -eq 1 || ! -s "$out/ca.crt" || ! -s "$out/ca.key" ]]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" \
    -subj "/O=microblog/OU=DEV-ONLY/CN=microblog dev CA ($namespace)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$out/ca.crt"
  echo "dev-ca.sh: new CA $out/ca.crt" >&2
else
  echo "dev-ca.sh: reusing the CA in $out (--new-ca for a new one)" >&2
fi

# issue NAME EKU [DNS SANs...]
issue() {
  local name="$1" eku="$2"
  shift 2
  local san
  san="URI:$(spiffe "$name")"
  local dns
  for dns in "$@"; do san="$san,DNS:$dns"; done
  if [[ $# -gt 0 ]]; then san="$san,IP:127.0.0.1"; fi
  mkdir -p "$out/$name"
  cat >"$work/$name.ext" <<EOF
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/$name/tls.key" 2>/dev/null
  openssl req -new -key "$out/$name/tls.key" -subj "/O=microblog/OU=DEV-ONLY/CN=$name" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$days" \
    -extfile "$work/$name.ext" -extensions leaf -out "$out/$name/tls.crt" 2>/dev/null
  cp "$out/ca.crt" "$out/$name/ca.crt"
  openssl verify -CAfile "$out/ca.crt" "$out/$name/tls.crt" >/dev/null
}

service_names() {
  local svc="$1"
  echo "$svc" "$svc.$namespace.svc" "$svc.$namespace.svc.cluster.local" \
    "$svc-headless.$namespace.svc.cluster.local" localhost
}

# shellcheck disable=SC2046 # word splitting of the name list is intended
issue user-service serverAuth,clientAuth $(service_names user-service)
# shellcheck disable=SC2046
issue post-service serverAuth,clientAuth $(service_names post-service)
issue post-service-reconcile clientAuth
issue microblog-admin clientAuth
# The files are read by the pods' group (defaultMode 0440, fsGroup) once in
# a Secret; here they stay the user's own.
chmod 0644 "$out/ca.crt" "$out"/*/tls.crt "$out"/*/ca.crt

echo "# Certificates for namespace $namespace in $out (valid $days days). Create the Secrets with:"
for name in user-service post-service post-service-reconcile microblog-admin; do
  echo "kubectl -n $namespace create secret generic $name-tls --type=kubernetes.io/tls" \
    "--from-file=tls.crt=$out/$name/tls.crt --from-file=tls.key=$out/$name/tls.key" \
    "--from-file=ca.crt=$out/$name/ca.crt"
done
echo "# microblog-admin-tls is for operators (grpcurl -cacert $out/ca.crt -cert $out/microblog-admin/tls.crt -key $out/microblog-admin/tls.key ...); no pod mounts it."
