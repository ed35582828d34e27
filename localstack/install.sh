#!/usr/bin/env bash
# Installs the emulators into reusable virtual environments under $S3BATCH_CACHE
# (default ~/.cache/s3batch). Quick when the pinned requirements are already installed:
# each venv keeps a stamp with the hash of the requirements file it was built from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"

# LocalStack 4.14.0 uses Python 3.12 syntax; the machine's default python3 may be older, so look
# for a 3.12+ interpreter on PATH and among pyenv's installed versions ($PYENV_ROOT, else ~/.pyenv).
find_python() {
  local c
  for c in "${S3BATCH_PYTHON:-}" python3.13 python3.12 python3 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  echo "no Python 3.12 or later found (LocalStack 4.14.0 needs one); set S3BATCH_PYTHON" >&2
  return 1
}
python="$(find_python)"
mkdir -p "$cache"

install_venv() { # name requirements uploaded-prior-to
  local name="$1" reqs="$2" cutoff="$3"
  local venv="$cache/venv-$name" stamp hash
  hash="$( (cat "$reqs"; echo "$cutoff"; "$python" --version) | sha256sum | cut -c1-16)"
  stamp="$venv/.s3batch-stamp"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    return 0
  fi
  echo "installing $name into $venv (one-off, a few minutes)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pip==26.3" >&2
  # Resolving as of the release date pins every transitive dependency to what the release was
  # tested with (a later cbor2, for one, removed a module LocalStack 4.14.0 imports).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --uploaded-prior-to "$cutoff" -r "$reqs" >&2
  echo "$hash" >"$stamp"
}

# A lock keeps two concurrent callers (tests and the local runtime) from building one venv twice.
exec 9>"$cache/install.lock"
flock 9
install_venv localstack "$here/requirements-localstack.txt" 2026-02-27T00:00:00Z
install_venv moto "$here/requirements-moto.txt" 2026-03-09T00:00:00Z

# A third gateway of another make, for `npm run test:gateways`: Versity's S3 gateway over a POSIX
# directory, built once from the Go module proxy (about two minutes) and cached like the venvs.
# shellcheck source=versions.sh
source "$here/versions.sh"
if [[ "${S3BATCH_THIRD_GATEWAY:-}" == "1" ]]; then
  bin="$cache/versitygw-$VERSITYGW_VERSION/versitygw"
  if [[ ! -x "$bin" ]]; then
    echo "building versitygw $VERSITYGW_VERSION into $cache (one-off, a few minutes)" >&2
    # Some Go tools refuse to start with the machine's AWS_CA_BUNDLE set.
    env -u AWS_CA_BUNDLE GOBIN="$cache/versitygw-$VERSITYGW_VERSION" \
      go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
  fi
fi
