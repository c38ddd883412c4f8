#!/usr/bin/env sh
# Install the packaged application for the current user: the folder goes to ~/.local/opt/tailor, a `tailor`
# command to ~/.local/bin, and the menu entry and icon to ~/.local/share. Run from the unpacked dist/tailor folder
# (./install.sh) or give that folder: packaging/linux/install.sh dist/tailor
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
APP="${1:-$HERE}"
[ -x "$APP/tailor" ] || { echo "install.sh: no tailor executable in $APP" >&2; exit 2; }
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
PREFIX="$HOME/.local/opt/tailor"
mkdir -p "$HOME/.local/opt" "$HOME/.local/bin" "$DATA/applications" "$DATA/icons/hicolor/scalable/apps"
if [ "$(cd "$APP" && pwd)" != "$PREFIX" ]; then
    rm -rf "$PREFIX"
    cp -a "$APP" "$PREFIX"
fi
ln -sf "$PREFIX/tailor" "$HOME/.local/bin/tailor"
cp "$PREFIX/tailor.svg" "$DATA/icons/hicolor/scalable/apps/tailor.svg"
sed "s|@PREFIX@|$PREFIX|" "$PREFIX/tailor.desktop" > "$DATA/applications/tailor.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
echo "installed Tailor in $PREFIX; start it from the menu or with: tailor"
