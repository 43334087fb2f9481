#!/bin/sh
# Makes the TLS material of the transport tests in DIR with the openssl
# command line: ca.pem/ca.key (the daemon's CA, also the client CA),
# server.pem/server.key (for 127.0.0.1 and localhost), client-<CN>.pem and
# .key for each CN given, and other-ca.pem with other-client.pem/.key, a
# client certificate ocxd must refuse.
#
#   tests/e2e/make-test-certs.sh DIR CN...
set -eu
dir=$1
shift
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" 2>/dev/null
}
sign() {  # name subject ca [extfile]
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  if [ $# -ge 4 ]; then
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
      -CAcreateserial -out "$1.pem" -days 2 -extfile "$4" 2>/dev/null
  else
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
      -CAcreateserial -out "$1.pem" -days 2 2>/dev/null
  fi
  rm -f "$1.csr"
}
ca ca "ocx test CA"
ca other-ca "another CA"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
sign server localhost ca server.ext
for cn in "$@"; do sign "client-$cn" "$cn" ca; done
sign other-client "${1:-nobody}" other-ca
chmod 0644 ./*.pem ./*.key
