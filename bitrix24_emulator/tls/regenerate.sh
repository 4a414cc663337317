#!/usr/bin/env bash
# Regenerates the emulator's throw-away TLS material: a test CA and a certificate for
# 127.0.0.1 / ::1 / localhost signed by it. The private keys are public on purpose: trust ca.pem
# only per process (REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, an ssl context), never system-wide.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca-key.pem"
openssl req -x509 -new -key "$work/ca-key.pem" -sha256 -days "$days" -subj "/O=bitrix24_emulator/CN=bitrix24_emulator test CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem"
openssl pkcs8 -topk8 -nocrypt -in "$work/key.pem" -out portal-key.pem
openssl req -new -key portal-key.pem -subj "/O=bitrix24_emulator/CN=127.0.0.1" -out "$work/portal.csr"
cat > "$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in "$work/portal.csr" -CA ca.pem -CAkey "$work/ca-key.pem" -CAcreateserial -days "$days" -sha256 \
    -extfile "$work/ext.cnf" -out portal-cert.pem
rm -f ca.srl
