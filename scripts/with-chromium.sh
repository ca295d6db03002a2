#!/usr/bin/env bash
# Run a command with Debian's headless Chromium available for the browser tests.
# Installs the chromium package when it is missing (Playwright drives it; its own browser
# download is never used). The command sees WEFT_TEST_CHROMIUM pointing at the binary.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    echo "with-chromium: installing Chromium from Debian's packages" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

export WEFT_TEST_CHROMIUM="$(command -v chromium)"
exec "$@"
