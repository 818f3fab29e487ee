# The benchmark's access-token key pair (sourced by bench/run.sh and
# bench/cascade.sh): an Ed25519 key made once in .local/bench-keys/ and its
# key set, for the services (TOKEN_SIGNING_KEY_FILE, TOKEN_JWKS_FILE: the
# deployed configuration's token settings, with local paths) and for the
# load generator, which signs its users' tokens with the same key
# (microblog-bench --token_signing_key). Needs ROOT and USER_BIN.
BENCH_KEY_DIR="$ROOT/.local/bench-keys"
BENCH_SIGNING_KEY="$BENCH_KEY_DIR/signing.pem"
BENCH_JWKS="$BENCH_KEY_DIR/jwks.json"
bench_token_keys() {
  if [[ ! -s "$BENCH_SIGNING_KEY" ]]; then
    mkdir -p "$BENCH_KEY_DIR"
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$BENCH_SIGNING_KEY")
  fi
  "$USER_BIN" jwks "$BENCH_SIGNING_KEY" >"$BENCH_JWKS"
}
# The services' token settings here.
TOKEN_ENV=(TOKEN_SIGNING_KEY_FILE="$BENCH_SIGNING_KEY" TOKEN_JWKS_FILE="$BENCH_JWKS")
