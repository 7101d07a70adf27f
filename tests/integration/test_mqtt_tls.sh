#!/bin/bash
# The MQTT transport over TLS against mosquitto: a throw-away CA, a server
# certificate for 127.0.0.1/localhost, a client certificate and a server
# certificate for the wrong host.  Server-authenticated TLS connects and
# publishes; mutual TLS works with the client certificate and is refused
# without it; the wrong host's certificate and an unknown CA are refused by
# our client.  Each case is one run of the "tls" Check case of
# $BUILD/tests/test_mqtt_transport.
. "$(dirname "$0")/lib.sh"

BIN=$BUILD/tests/test_mqtt_transport
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
if [ ! -x "$BIN" ]; then fail "test_mqtt_transport not built (make $BIN)"; exit 1; fi
if [ ! -x "$MOSQUITTO" ]; then fail "mosquitto not installed"; exit 1; fi

# ---- certificates (EC P-256: quick to make) ----
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null; }
# sign NAME CN EXTENSIONS: a certificate for NAME.key signed by the CA
sign() {
	newkey "$1"
	openssl req -new -key "$T/$1.key" -subj "/CN=$2" -out "$T/$1.csr" 2>/dev/null &&
		printf '%s\n' "$3" >"$T/$1.ext" &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
			-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null
}
mkca() {
	newkey "$1" &&
		openssl req -x509 -new -key "$T/$1.key" -subj "/CN=$2" -days 2 -out "$T/$1.pem" 2>/dev/null
}
mkca ca "shelter test CA" &&
	mkca otherca "some other CA" &&
	sign server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
	sign wrong wrong.example "subjectAltName=DNS:wrong.example
extendedKeyUsage=serverAuth" &&
	sign client gw-test "extendedKeyUsage=clientAuth" || { fail "openssl could not make certificates"; exit 1; }
chmod 644 "$T"/*.key

P_SERVER=$(free_port)
P_MUTUAL=$(free_port)
P_WRONG=$(free_port)

cat >"$T/mosquitto.conf" <<EOF
user $(id -un)
allow_anonymous true
persistence false
log_dest stdout

listener $P_SERVER 127.0.0.1
cafile $T/ca.pem
certfile $T/server.pem
keyfile $T/server.key

listener $P_MUTUAL 127.0.0.1
cafile $T/ca.pem
certfile $T/server.pem
keyfile $T/server.key
require_certificate true

listener $P_WRONG 127.0.0.1
cafile $T/ca.pem
certfile $T/wrong.pem
keyfile $T/wrong.key
EOF
bg mosquitto "$MOSQUITTO" -c "$T/mosquitto.conf"
for p in $P_SERVER $P_MUTUAL $P_WRONG; do
	wait_for 5 port_open "$p" || { fail "mosquitto did not start"; cat "$T/mosquitto.log"; exit 1; }
done

# tls_case NAME EXPECT URI CA [CERT KEY]
tls_case() {
	local log="$T/case-$1.log"
	MQTT_TEST_TLS_EXPECT=$2 MQTT_TEST_TLS_URI=$3 MQTT_TEST_TLS_CA=$4 \
	MQTT_TEST_TLS_CERT=${5:-} MQTT_TEST_TLS_KEY=${6:-} CK_RUN_CASE=tls \
		timeout 30 "$BIN" >"$log" 2>&1
	grep '^tls ' "$log"
	if grep -q '^100%: Checks: 1, Failures: 0, Errors: 0' "$log"; then
		pass "$1"
	else
		fail "$1"
		cat "$log"
	fi
}

tls_case "server-auth TLS connects and publishes" connect "ssl://127.0.0.1:$P_SERVER" "$T/ca.pem"
tls_case "mutual TLS with the client certificate" connect "ssl://127.0.0.1:$P_MUTUAL" "$T/ca.pem" \
	"$T/client.pem" "$T/client.key"
tls_case "mutual TLS without a client certificate is refused" refuse "ssl://127.0.0.1:$P_MUTUAL" "$T/ca.pem"
tls_case "server certificate for the wrong host is refused" refuse "ssl://127.0.0.1:$P_WRONG" "$T/ca.pem"
tls_case "server certificate from an unknown CA is refused" refuse "ssl://127.0.0.1:$P_SERVER" \
	"$T/otherca.pem"

# Control: the wrong host's certificate chains to our CA, so only the host
# name check can have refused it.
chain_ok() {
	openssl s_client -connect "127.0.0.1:$P_WRONG" -CAfile "$T/ca.pem" -verify_return_error "$@" \
		</dev/null >"$T/s_client.log" 2>&1
}
check "wrong-host certificate chains to the CA (control)" chain_ok
check "wrong-host certificate fails only the IP check (control)" \
	bash -c "! openssl s_client -connect 127.0.0.1:$P_WRONG -CAfile $T/ca.pem -verify_return_error -verify_ip 127.0.0.1 </dev/null >/dev/null 2>&1"
exit 0
