#!/usr/bin/env bash
# Install the optional Debian packages emoji-zh uses (a second emoji artwork and the CLDR
# keyword lists) when apt-get is usable; otherwise say what is missing and carry on, since
# the dataset builds from the PyPI packages alone.
set -u
missing=()
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
[ -f /usr/share/unicode/cldr/common/annotations/zh.xml ] || missing+=(unicode-cldr-core)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "installing ${missing[*]} with apt-get"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; then
        exit 0
    fi
fi
echo "note: ${missing[*]} not installed (needs root and apt-get); emoji-zh will be built without them:" \
     "fewer images per concept (no Noto Color Emoji) and no CLDR keyword captions" >&2
exit 0
