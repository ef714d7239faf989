#!/usr/bin/env bash
# jwt_auth_test.sh — users' JWTs on the Task API, as a black box (curl,
# jq, openssl, mint_jwt.py): with --jwt-secret-file, a request under
# /v1/users/{user}/ needs a valid HS256 token whose sub is {user}; expired,
# not yet valid, wrongly issued, wrong audience, unsigned ("none"),
# tampered and critical-extension tokens are a 401; another user's path
# is the 404 of a missing task; the Dapr API, the listing, the dashboard
# and the metrics take the API token only. With --jwt-public-key, RS256
# and ES256 by the key's type, and an HS256 token made with the public
# key's PEM as its secret (algorithm confusion) is refused. Keys and flags
# that will not do stop vactord at its start.
# Usage: jwt_auth_test.sh PATH_TO_VACTORD
vactord="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
mint() { python3 "$here/mint_jwt.py" "$@"; }

head -c 48 /dev/urandom | base64 > "$dir/secret"
head -c 48 /dev/urandom | base64 > "$dir/other-secret"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/rsa.pem" 2>/dev/null
openssl pkey -in "$dir/rsa.pem" -pubout -out "$dir/rsa.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ec.pem" 2>/dev/null
openssl pkey -in "$dir/ec.pem" -pubout -out "$dir/ec.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$dir/weak.pem" 2>/dev/null
openssl pkey -in "$dir/weak.pem" -pubout -out "$dir/weak.pub"

# answer FILE CURL-ARGS...: the body to FILE, the status printed.
answer() { local f="$1"; shift; curl -s -o "$f" -w '%{http_code}' "$@"; }
# code STATUS ERRORCODE CURL-ARGS...: the answer has both.
code() {
  local want="$1" err="$2"; shift 2
  [ "$(answer "$dir/body" "$@")" = "$want" ] &&
    jq -e --arg e "$err" '.errorCode==$e' "$dir/body" >/dev/null
}
bearer() { echo "Authorization: Bearer $1"; }
u="$url/v1/users"

# ---- HS256, with an issuer, an audience and an API token ----
hs() { mint HS256 "$dir/secret" iss=idp aud=vactor exp=+600 "$@"; }
check "starts with a secret, an issuer, an audience and a token" \
  start --token admin-token --jwt-secret-file "$dir/secret" --jwt-issuer idp --jwt-audience vactor
u="$url/v1/users"
ann=$(hs sub=ann) ben=$(hs sub=ben) cat=$(hs sub=cat)

check "no Authorization: 401 ERR_UNAUTHENTICATED" code 401 ERR_UNAUTHENTICATED "$u/ann/tasks"
curl -s -D "$dir/headers" -o /dev/null "$u/ann/tasks"
check "... with WWW-Authenticate: Bearer" grep -qi '^www-authenticate: Bearer realm="vactor"' "$dir/headers"
check "ann's token makes ann's task" test "$(status -X PUT -H "$(bearer "$ann")" "$u/ann/tasks/trip" -d '{"title":"Trip","members":["ben"]}')" = 201
check "and reads it" json '.title=="Trip" and .owner=="ann"' -H "$(bearer "$ann")" "$u/ann/tasks/trip"
check "ben, a member, reads it with his own token" json '.title=="Trip"' -H "$(bearer "$ben")" "$u/ben/tasks/ann:trip"
check "ben's list holds it" json '.tasks | map(.id) == ["ann:trip"]' -H "$(bearer "$ben")" "$u/ben/tasks"
check "cat's token on ann's path: 404 ERR_TASK_NOT_FOUND" code 404 ERR_TASK_NOT_FOUND -H "$(bearer "$cat")" "$u/ann/tasks/trip"
cp "$dir/body" "$dir/other-users"
answer "$dir/missing" -H "$(bearer "$ann")" "$u/ann/tasks/nope" >/dev/null
check "... the status and body of a task that is not there" cmp -s "$dir/other-users" "$dir/missing"
check "cat's token cannot write ann's task" code 404 ERR_TASK_NOT_FOUND -X PATCH -H "$(bearer "$cat")" "$u/ann/tasks/trip" -d '{"title":"mine"}'
check "nor list ann's tasks, nor read ann's chat" \
  test "$(status -H "$(bearer "$cat")" "$u/ann/tasks")$(status -H "$(bearer "$cat")" "$u/ann/chat")" = 404404
check "the title is still ann's" json '.title=="Trip"' -H "$(bearer "$ann")" "$u/ann/tasks/trip"

check "an expired token: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=ann exp=-120)")" "$u/ann/tasks"
check "... saying it expired" grep -q expired "$dir/body"
check "a token without exp: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 "$dir/secret" iss=idp aud=vactor sub=ann)")" "$u/ann/tasks"
check "a token not valid yet (nbf): 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=ann nbf=+600)")" "$u/ann/tasks"
check "a token valid from a minute ago: 200" test "$(status -H "$(bearer "$(hs sub=ann nbf=-60)")" "$u/ann/tasks")" = 200
check "another issuer: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 "$dir/secret" iss=evil aud=vactor exp=+600 sub=ann)")" "$u/ann/tasks"
check "another audience: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 "$dir/secret" iss=idp aud=other exp=+600 sub=ann)")" "$u/ann/tasks"
check "an audience list that holds ours: 200" test "$(status -H "$(bearer "$(mint HS256 "$dir/secret" iss=idp 'aud=["other","vactor"]' exp=+600 sub=ann)")" "$u/ann/tasks")" = 200
check "another secret: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 "$dir/other-secret" iss=idp aud=vactor exp=+600 sub=ann)")" "$u/ann/tasks"
check "alg none: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint none - iss=idp aud=vactor exp=+600 sub=ann)")" "$u/ann/tasks"
check "cat's token with its sub changed to ann: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=cat --tamper-sub ann)")" "$u/ann/tasks"
check "alg hS256 (not as RFC 7515 writes it): 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=ann --header alg=hS256)")" "$u/ann/tasks"
check "a crit header: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=ann --header 'crit=["exp"]')")" "$u/ann/tasks"
check "no sub: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs)")" "$u/ann/tasks"
check "a number for a sub: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(hs sub=7)")" "$u/7/tasks"
check "garbage: 401" code 401 ERR_UNAUTHENTICATED -H "Authorization: Bearer a.b.c" "$u/ann/tasks"
check "9,000 bytes of token: 401" code 401 ERR_UNAUTHENTICATED -H "Authorization: Bearer $(head -c 9000 /dev/zero | tr '\0' a)" "$u/ann/tasks"
check "the API token is no user's JWT" code 401 ERR_UNAUTHENTICATED -H "Authorization: Bearer admin-token" "$u/ann/tasks"
check "nor is it as dapr-api-token" code 401 ERR_UNAUTHENTICATED -H "dapr-api-token: admin-token" "$u/ann/tasks"

# A user's JWT opens nothing but the user's own routes.
for route in /v1/actors /v1/actors/TaskActor /dashboard /metrics /v1/cluster; do
  check "ann's JWT does not open $route" code 401 ERR_UNAUTHORIZED -H "$(bearer "$ann")" "$url$route"
done
# daprd's 401: plain text (the API token is set)
dapr401() { [ "$(curl -s -w ' %{http_code}' "$@" | tr -d '\n')" = "invalid api token 401" ]; }
for route in /v1.0/metadata /v1.0/actors/TaskActor/trip/state/doc; do
  check "ann's JWT does not open $route" dapr401 -H "$(bearer "$ann")" "$url$route"
done
check "nor a Dapr method call as ben" dapr401 -X POST -H "$(bearer "$ann")" "$url/v1.0/actors/TaskActor/ann:trip/method/get" -d '{"user":"ben"}'
check "the API token opens the Dapr API" test "$(status -H "dapr-api-token: admin-token" "$url/v1.0/metadata")" = 200
check "and the listing" json '.actors | map(.id) | index("ann:trip") != null' -H "dapr-api-token: admin-token" "$url/v1/actors/TaskActor"
check "health needs nothing" test "$(status "$url/v1.0/healthz")" = 204
check "stops" stop

# ---- RS256, and no API token ----
check "starts with an RSA public key, no token" start --jwt-public-key "$dir/rsa.pub"
rs=$(mint RS256 "$dir/rsa.pem" sub=ann exp=+600)
check "an RS256 token reads ann's task" json '.title=="Trip"' -H "$(bearer "$rs")" "$u/ann/tasks/trip"
check "HS256 made with the public key's PEM as secret: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 - sub=ann exp=+600 --hmac-with "$dir/rsa.pub")")" "$u/ann/tasks/trip"
check "an ES256 token: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint ES256 "$dir/ec.pem" sub=ann exp=+600)")" "$u/ann/tasks"
check "the HS256 secret's token: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$ann")" "$u/ann/tasks"
check "without an API token the Dapr API is closed" code 401 ERR_UNAUTHORIZED "$url/v1.0/metadata"
check "stops" stop

# ---- ES256 ----
check "starts with an EC P-256 public key" start --jwt-public-key "$dir/ec.pub" --token admin-token
check "an ES256 token reads ann's task" json '.title=="Trip"' -H "$(bearer "$(mint ES256 "$dir/ec.pem" sub=ann exp=+600)")" "$u/ann/tasks/trip"
check "an RS256 token: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$rs")" "$u/ann/tasks"
check "stops" stop

# ---- A JSON Web Key Set: RSA and EC keys by kid, two RSA keys (rotation) ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/rsa2.pem" 2>/dev/null
openssl pkey -in "$dir/rsa2.pem" -pubout -out "$dir/rsa2.pub"
jwks() { python3 "$here/make_jwks.py" "$@"; }
jwks r1="$dir/rsa.pub" r2="$dir/rsa2.pub,use=sig,alg=RS256" e1="$dir/ec.pub" w="$dir/weak.pub,use=enc" > "$dir/jwks.json"
check "starts with a key set (an encryption key in it is skipped)" start --jwt-jwks "$dir/jwks.json" --token admin-token
check "... the log names both algorithms" grep -q 'alg=RS256,ES256 ' "$dir/log"
check "an RS256 token of kid r1 reads ann's task" json '.title=="Trip"' -H "$(bearer "$(mint RS256 "$dir/rsa.pem" sub=ann exp=+600 --header kid=r1)")" "$u/ann/tasks/trip"
check "... and one of kid r2, the next key (rotation)" json '.title=="Trip"' -H "$(bearer "$(mint RS256 "$dir/rsa2.pem" sub=ann exp=+600 --header kid=r2)")" "$u/ann/tasks/trip"
check "an ES256 token of kid e1" json '.title=="Trip"' -H "$(bearer "$(mint ES256 "$dir/ec.pem" sub=ann exp=+600 --header kid=e1)")" "$u/ann/tasks/trip"
check "r2's key under kid r1: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint RS256 "$dir/rsa2.pem" sub=ann exp=+600 --header kid=r1)")" "$u/ann/tasks"
check "an RS256 token naming the EC key: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint RS256 "$dir/rsa.pem" sub=ann exp=+600 --header kid=e1)")" "$u/ann/tasks"
check "an unknown kid: 401" bash -c "[ \"\$(curl -s -H '$(bearer "$(mint RS256 "$dir/rsa.pem" sub=ann exp=+600 --header kid=r9)")' '$u/ann/tasks' | jq -r .message)\" = \"the token's key (kid) is not one this server trusts\" ]"
check "no kid with several keys: 401" bash -c "curl -s -H '$(bearer "$rs")' '$u/ann/tasks' | jq -e '.errorCode == \"ERR_UNAUTHENTICATED\" and (.message | test(\"names no key\"))' >/dev/null"
check "the encryption key signs nothing: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint RS256 "$dir/weak.pem" sub=ann exp=+600 --header kid=w)")" "$u/ann/tasks"
check "HS256 with the PEM of kid r1 as secret: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint HS256 - sub=ann exp=+600 --header kid=r1 --hmac-with "$dir/rsa.pub")")" "$u/ann/tasks/trip"
check "alg none under kid r1: 401" code 401 ERR_UNAUTHENTICATED -H "$(bearer "$(mint none - sub=ann exp=+600 --header kid=r1)")" "$u/ann/tasks/trip"
check "stops" stop
check "one key in the set: a token without kid is its" bash -c "python3 '$here/make_jwks.py' only='$dir/rsa.pub' > '$dir/one.json'"
check "starts with it" start --jwt-jwks "$dir/one.json" --token admin-token
check "... an RS256 token without kid" json '.title=="Trip"' -H "$(bearer "$rs")" "$u/ann/tasks/trip"
check "stops" stop

# ---- Keys and flags that will not do ----
# refused EXIT WORDS [VAR=VALUE...] -- FLAGS...: vactord exits with EXIT at
# once (not killed by the timeout: 124), saying WORDS on stderr.
refused() {
  local want="$1" words="$2" code; shift 2
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  env "${vars[@]}" timeout 10 "$vactord" --listen "127.0.0.1:$(free_port)" --data "$dir/refused" "$@" 2>"$dir/refusal"
  code=$?
  [ "$code" = "$want" ] && grep -q -- "$words" "$dir/refusal"
}
printf 'short secret\n' > "$dir/short"
mkfifo "$dir/fifo"
check "a secret under 32 bytes is refused" refused 1 "has 32 bytes or more" -- --jwt-secret-file "$dir/short"
check "a missing key file is refused" refused 1 "No such file" -- --jwt-public-key "$dir/nope.pem"
check "a file that is no public key is refused" refused 1 "not a PEM public key" -- --jwt-public-key "$dir/secret"
check "a private key for a public one is refused" refused 1 "not a PEM public key" -- --jwt-public-key "$dir/rsa.pem"
check "RSA under 2048 bits is refused" refused 1 "neither RSA of 2048" -- --jwt-public-key "$dir/weak.pub"
echo '{"keys": 5}' > "$dir/bad-set.json"
check "a key set that is none is refused" refused 1 "not a JSON Web Key Set" -- --jwt-jwks "$dir/bad-set.json"
echo '{"keys": []}' > "$dir/empty-set.json"
check "an empty key set is refused" refused 1 "no signing key" -- --jwt-jwks "$dir/empty-set.json"
jwks a="$dir/rsa.pub" a="$dir/ec.pub" > "$dir/dup.json"
check "two keys of one kid are refused" refused 1 "the same kid" -- --jwt-jwks "$dir/dup.json"
jwks a="$dir/rsa.pub,kid=" > "$dir/nokid.json"
check "a key without kid is refused" refused 1 "no kid" -- --jwt-jwks "$dir/nokid.json"
jwks a="$dir/rsa.pub,alg=RS512" > "$dir/rs512.json"
check "a key for another algorithm is refused" refused 1 "alg is not RS256" -- --jwt-jwks "$dir/rs512.json"
jwks a="$dir/weak.pub" > "$dir/weak.json"
check "a weak RSA key in a set is refused" refused 1 "neither RSA of 2048" -- --jwt-jwks "$dir/weak.json"
jq '.keys[0].n = "not*base64"' "$dir/one.json" > "$dir/badn.json"
jwks $(for i in $(seq 17); do echo "k$i=$dir/ec.pub"; done) > "$dir/many.json"
check "a set of 17 signing keys is refused (16 at most)" refused 1 "more than 16" -- --jwt-jwks "$dir/many.json"
check "a key whose n is no number is refused" refused 1 "n and e are not" -- --jwt-jwks "$dir/badn.json"
check "a FIFO for a key is refused, not waited on" refused 1 "not a regular file" -- --jwt-secret-file "$dir/fifo"
check "both key flags are refused" refused 2 "not both" -- --jwt-secret-file "$dir/secret" --jwt-public-key "$dir/rsa.pub"
check "an issuer without a key is refused" refused 2 "need --jwt-secret-file" -- --jwt-issuer idp
check "the variables work as the flags" refused 1 "has 32 bytes or more" VACTORD_JWT_SECRET_FILE="$dir/short" --
check "a key flag takes the place of the other key's variable" refused 1 "has 32 bytes or more" VACTORD_JWT_PUBLIC_KEY="$dir/rsa.pub" -- --jwt-secret-file "$dir/short"
check "an empty variable is no issuer" refused 2 "need --jwt-secret-file" VACTORD_JWT_ISSUER= VACTORD_JWT_AUDIENCE=x --

finish
