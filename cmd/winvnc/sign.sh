#!/usr/bin/env bash
# Signs winvnc.exe with Authenticode (osslsigncode), as `make agent` does
# when SIGN_CERT is set, and checks the signature. Usage:
#
#   sign.sh FILE.exe
#
# with the environment:
#   SIGN_CERT           the code-signing certificate, with its chain (PEM)
#   SIGN_KEY            its private key: a PEM file, or a PKCS#11 URI
#                       (pkcs11:token=...;object=...) for a hardware token
#   SIGN_PKCS11_MODULE  the token's PKCS#11 module (with a pkcs11: key)
#   SIGN_PASS_FILE      a file holding the key's passphrase or the token's PIN
#   SIGN_TIMESTAMP      an RFC 3161 time-stamping URL (a real signature needs one)
#   SIGN_TSA_CERT, SIGN_TSA_KEY
#                       a local time-stamping certificate and key instead (tests)
#   SIGN_NAME, SIGN_URL the description and URL shown in the signature
#   SIGN_CAFILE         if set, the signature is verified against these roots
set -euo pipefail

exe=${1:?usage: sign.sh FILE.exe}
: "${SIGN_CERT:?SIGN_CERT is not set}"
: "${SIGN_KEY:?SIGN_KEY is not set}"
command -v osslsigncode >/dev/null || { echo "sign.sh: osslsigncode is missing (bash .ci/deps.sh)" >&2; exit 1; }

args=(sign -h sha256 -certs "$SIGN_CERT" -n "${SIGN_NAME:-Lifebuoy remote support}")
if [[ $SIGN_KEY == pkcs11:* ]]; then
	: "${SIGN_PKCS11_MODULE:?a pkcs11: key needs SIGN_PKCS11_MODULE}"
	args+=(-pkcs11module "$SIGN_PKCS11_MODULE" -key "$SIGN_KEY")
else
	args+=(-key "$SIGN_KEY")
fi
[[ -n ${SIGN_PASS_FILE:-} ]] && args+=(-readpass "$SIGN_PASS_FILE")
[[ -n ${SIGN_URL:-} ]] && args+=(-i "$SIGN_URL")
if [[ -n ${SIGN_TSA_CERT:-} ]]; then
	args+=(-TSA-certs "$SIGN_TSA_CERT" -TSA-key "${SIGN_TSA_KEY:?SIGN_TSA_CERT needs SIGN_TSA_KEY}")
elif [[ -n ${SIGN_TIMESTAMP:-} ]]; then
	args+=(-ts "$SIGN_TIMESTAMP")
else
	echo "sign.sh: warning: no time stamp (SIGN_TIMESTAMP); the signature ends with the certificate" >&2
fi

tmp="$exe.unsigned"
mv "$exe" "$tmp"
if ! osslsigncode "${args[@]}" -in "$tmp" -out "$exe" >/dev/null; then
	mv "$tmp" "$exe"
	echo "sign.sh: signing $exe failed" >&2
	exit 1
fi
rm -f "$tmp"
if [[ -n ${SIGN_CAFILE:-} ]]; then
	osslsigncode verify -CAfile "$SIGN_CAFILE" -TSA-CAfile "$SIGN_CAFILE" -in "$exe" >/dev/null
fi
echo "sign.sh: signed $exe"
