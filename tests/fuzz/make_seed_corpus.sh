#!/usr/bin/env bash
# Writes the hand-made seed inputs of every fuzz target into
# tests/fuzz/corpus/<target>/seed-* (the rest of each corpus was found by
# the fuzzers and merged in; see tests/README.md, "Fuzzing"). Request messages are
# encoded from text format by protoc, so the seeds follow the .proto files.
# Re-run after changing a seed below or a request message; commit the result.
#
# Usage: tests/fuzz/make_seed_corpus.sh
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/../.." && pwd)"
CORPUS="$FUZZ_DIR/corpus"

# seed TARGET NAME: stdin becomes corpus/TARGET/seed-NAME.
seed() {
  mkdir -p "$CORPUS/$1"
  cat >"$CORPUS/$1/seed-$2"
}

# The page token EncodePageToken(kind, values) writes: web-safe base64,
# unpadded, of "kind:v1:v1,v2,...".
page_token() {
  printf '%s:v1:%s' "$1" "$2" | base64 -w0 | tr '+/' '-_' | tr -d '='
}

# request TARGET NAME SELECTOR MESSAGE TEXT: the selector byte (which RPC),
# then MESSAGE encoded from protobuf text format TEXT.
request() {
  local target="$1" name="$2" selector="$3" message="$4" text="$5"
  {
    printf "\\x$selector"
    printf '%s' "$text" | protoc -I "$ROOT/proto" -I /usr/include --encode="$message" \
      "$ROOT/proto/microblog/user/v1/user_service.proto" \
      "$ROOT/proto/microblog/post/v1/post_service.proto"
  } | seed "$target" "$name"
}

# --- page_token: token text, then (read from the end by FuzzedDataProvider)
# the key values, page size, key length (1 + byte % 4) and kind (byte % 3:
# posts, users, "").
page_token_seed() {  # NAME TOKEN COUNT_BYTE KIND_BYTE KEY_BYTES
  { printf '%s' "$2"; printf '%*s' "$5" '' | tr ' ' '\001'; printf '\x14\x00\x00\x00'
    printf "\\x$3\\x$4"; } | seed page_token "$1"
}
page_token_seed posts "$(page_token posts 7,1700000000123456,42)" 02 00 24
page_token_seed users "$(page_token users 12345)" 00 01 8
page_token_seed negative "$(page_token posts 0,-9007199254740991,1)" 02 00 24
page_token_seed garbage 'not a token!' 00 00 8

# --- user_requests: the selector is the RPC (user_requests_fuzzer.cc).
U=microblog.user.v1
request user_requests create 00 $U.CreateUserRequest \
  'username: "ada" email: "ada@example.com" password: "correct horse battery"'
request user_requests create-unicode 00 $U.CreateUserRequest \
  'username: "Ærøskøbing" email: "山田@例え.jp" password: "12345678"'
request user_requests create-bad 00 $U.CreateUserRequest \
  'username: "a b" email: "@example" password: "short"'
request user_requests get 01 $U.GetUserRequest 'id: 1'
request user_requests lookup-username 02 $U.LookupUserRequest 'username: "ada"'
request user_requests lookup-email 02 $U.LookupUserRequest 'email: "ada@example.com"'
request user_requests list 03 $U.ListUsersRequest \
  "page_size: 10 page_token: \"$(page_token users 41)\""
request user_requests update 04 $U.UpdateUserRequest \
  'id: 1 username: "ada2" password: "new password" update_mask { paths: "username" paths: "password" }'
request user_requests update-unknown-path 04 $U.UpdateUserRequest \
  'id: 1 email: "a@b.co" update_mask { paths: "email" paths: "id" }'
request user_requests delete 05 $U.DeleteUserRequest 'id: 7'
request user_requests batch 06 $U.BatchGetUsersRequest 'ids: [1, 2, 3, 2]'
request user_requests verify 07 $U.VerifyPasswordRequest \
  'login: "ada@example.com" password: "correct horse battery"'

# --- post_requests.
P=microblog.post.v1
request post_requests create 00 $P.CreatePostRequest \
  'user_id: 1 body: "Hello, microblog! ✨" request_id: "3f1c0a2e-1b7d-4c55-9f2e-8a1d2b3c4d5e"'
request post_requests create-blank 00 $P.CreatePostRequest 'user_id: 1 body: " \t"'
request post_requests get 01 $P.GetPostRequest 'id: 12'
request post_requests list 02 $P.ListPostsRequest \
  "user_id: 1 page_size: 20 page_token: \"$(page_token posts 1,1700000000123456,42)\""
request post_requests list-everyone 02 $P.ListPostsRequest \
  "page_size: 500 page_token: \"$(page_token posts 0,1700000000123456,42)\""
request post_requests delete 03 $P.DeletePostRequest 'id: 12'

# --- traceparent.
printf '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' | seed traceparent v00
printf 'cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-later' | seed traceparent later-version
printf 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' | seed traceparent version-ff

# --- config: NUL-separated arguments.
printf -- '--listen-address=127.0.0.1:1\0--db-pool-size\08\0--log-level=debug' | seed config flags
printf -- '--tls-cert-file=/c.pem\0--tls-key-file=/k.pem\0--tls-client-ca-file=/ca.pem' | seed config tls
printf -- '--help' | seed config help
printf -- '--max-deadline-ms=99999999999999999999\0--no-such-flag' | seed config bad

# --- identity_text: one text, read as a username, an e-mail and a body.
printf 'ada' | seed identity_text ascii
printf '\xc3\x89MILE' | seed identity_text upper-accent
printf 'e\xcc\x81mile@\xc3\xa9cole.fr' | seed identity_text decomposed-idna
printf '\xef\xbd\x81\xef\xbd\x84\xef\xbd\x81' | seed identity_text fullwidth
printf '\xd0\xb0da' | seed identity_text mixed-script
printf '\xe3\x85\xa4' | seed identity_text hangul-filler
printf '\xd7\xa9\xd7\xa8\xd7\x94' | seed identity_text hebrew
printf 'stra\xc3\x9fe@EXAMPLE.com' | seed identity_text sharp-s-email

# --- redact: first byte even = any text, odd = URL built from parts.
printf '\x00postgresql://app:s3cret@db:5432/users?sslmode=disable' | seed redact uri
printf "\\x00host=db password='s3 cret' user=app" | seed redact keyword-value
printf '\x00postgresql:///users?host=/tmp&password=s3cret&user=a' | seed redact query-password
printf '\x00could not connect to postgres://bob:p%%40ss@db/x: timeout' | seed redact message
printf '\x01bob\\;s3cret\\;db' | seed redact built

# --- migration_file_name.
printf '0001_create_users.up.sql' | seed migration_file_name up
printf '0002_add_index.down.sql' | seed migration_file_name down
printf '0003_Bad-Name.up.sql' | seed migration_file_name bad

# --- sql_script: position (from the end), then message and script text.
{ printf 'relation "nope" does not exist\\\nCREATE TABLE t (id int);\nSELECT * FROM nope;\n'
  printf '\x00\x00\x00\x21'; } | seed sql_script missing-table
{ printf 'syntax error\\\nINSERT INTO t VALUES (\xc3\xa9t\xc3\xa9);\n'; printf '\x00\x00\x00\x10'; } |
  seed sql_script utf8
