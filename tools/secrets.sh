# Sourced by tools/run.sh and tools/shell.sh: export TONGBAN_SECRET_KEY and TONGBAN_ACTION_TOKEN,
# from the environment when set, else from var/secrets.env, generated there (mode 600) when missing.
SECRETS_FILE=${TONGBAN_SECRETS_FILE:-var/secrets.env}
if [ -z "${TONGBAN_SECRET_KEY:-}" ] || [ -z "${TONGBAN_ACTION_TOKEN:-}" ]; then
  if [ ! -s "$SECRETS_FILE" ]; then
    mkdir -p "$(dirname "$SECRETS_FILE")"
    (
      umask 077
      {
        echo "TONGBAN_SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        echo "TONGBAN_ACTION_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')"
      } >"$SECRETS_FILE"
    )
  fi
  while IFS='=' read -r key value; do
    case "$key" in
      TONGBAN_SECRET_KEY) [ -n "${TONGBAN_SECRET_KEY:-}" ] || TONGBAN_SECRET_KEY=$value ;;
      TONGBAN_ACTION_TOKEN) [ -n "${TONGBAN_ACTION_TOKEN:-}" ] || TONGBAN_ACTION_TOKEN=$value ;;
    esac
  done <"$SECRETS_FILE"
fi
export TONGBAN_SECRET_KEY TONGBAN_ACTION_TOKEN
