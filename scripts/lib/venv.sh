# Shared by scripts/test, scripts/demo, scripts/bench and scripts/soak (source it from the repository
# root): `ensure_venv` creates .venv on first use and (re)installs the project with its test extras
# whenever pyproject.toml changes, so every script runs the same environment.
ensure_venv() {
  local py=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv (first run only)" >&2
    "$py" -m venv .venv
  fi
  local stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    echo "== installing email-router into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[test]'
    rm -f .venv/.installed-* && touch "$stamp"
  fi
}
