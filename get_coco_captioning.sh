#!/usr/bin/env bash
# Download and unpack the CS231n COCO captioning data (coco_captioning.zip, about 1 GB).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./get_coco_captioning.sh [--help] [DIR]

Download the CS231n COCO captioning data and unpack it into DIR
(default: $RNNCAP_DATA if set, else datasets/coco_captioning next to this script,
which is where rnncap's load_coco_data() looks by default).

- Uses curl or wget, whichever exists (RNNCAP_DOWNLOADER=curl|wget picks one).
- Resumable: an interrupted download (DIR.zip.part) is continued by the next run.
- A partial file that can never be resumed (the server ignores Range requests, or the file is
  as long as the download or longer) is discarded and the download starts afresh.
- The zip is checked with `unzip -t` before extraction, and refused (and removed) if an entry
  is a link or its path leaves DIR; extraction goes to a temporary directory that is moved
  into place, so a failure never leaves a half-written DIR.
- The zip is removed after success; with the dataset already in DIR it does nothing.
- RNNCAP_COCO_URL overrides the download URL (http(s)://, or file:// with curl).
EOF
}

die() { echo "get_coco_captioning.sh: error: $*" >&2; exit 1; }

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    -*) echo "get_coco_captioning.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "get_coco_captioning.sh: at most one DIR argument (see --help)" >&2; exit 2; }

URL="${RNNCAP_COCO_URL:-http://cs231n.stanford.edu/coco_captioning.zip}"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-${RNNCAP_DATA:-$SCRIPT_DIR/datasets/coco_captioning}}"
DEST="${DEST%/}"
FILES="coco2014_captions.h5 coco2014_vocab.json
train2014_vgg16_fc7.h5 val2014_vgg16_fc7.h5 train2014_vgg16_fc7_pca.h5 val2014_vgg16_fc7_pca.h5
train2014_urls.txt val2014_urls.txt"

# Prints the required files missing from directory $1 (nothing if it is complete).
missing_in() {
    local f
    for f in $FILES; do [ -f "$1/$f" ] || echo "$f"; done
}

if [ -d "$DEST" ]; then
    if [ -z "$(missing_in "$DEST")" ]; then
        echo "COCO captioning data already present in $DEST; nothing to do."
        exit 0
    fi
    if [ -n "$(ls -A "$DEST")" ]; then
        die "$DEST exists but lacks: $(missing_in "$DEST" | tr '\n' ' ')- remove it or pass another DIR"
    fi
fi

command -v unzip >/dev/null 2>&1 || die "unzip is not installed (apt-get install unzip)"
TOOL="${RNNCAP_DOWNLOADER:-}"
if [ -z "$TOOL" ]; then
    if command -v curl >/dev/null 2>&1; then TOOL=curl
    elif command -v wget >/dev/null 2>&1; then TOOL=wget
    else die "neither curl nor wget is installed; install one of them"; fi
fi
case "$TOOL" in
    curl|wget) command -v "$TOOL" >/dev/null 2>&1 || die "RNNCAP_DOWNLOADER=$TOOL but $TOOL is not installed" ;;
    *) die "RNNCAP_DOWNLOADER must be curl or wget, got '$TOOL'" ;;
esac

PARENT="$(dirname "$DEST")"
mkdir -p "$PARENT" || die "cannot create $PARENT"
ZIP="$DEST.zip"
PART="$ZIP.part"

# Runs the downloader once; "resume" continues $PART. Sets RC (exit status) and CODE (HTTP status,
# curl only) instead of failing, so that the caller can tell a dead-end partial file from a network error.
fetch() {
    RC=0 CODE=""
    if [ "$TOOL" = curl ]; then
        local resume=()
        [ "$1" = resume ] && resume=(-C -)
        CODE="$(curl -fL --retry 3 --connect-timeout 30 ${resume[@]+"${resume[@]}"} -o "$PART" \
            -w '%{http_code}' "$URL")" || RC=$?
    else
        local resume=()
        [ "$1" = resume ] && resume=(-c)
        wget ${resume[@]+"${resume[@]}"} --tries=3 --timeout=30 -O "$PART" "$URL" || RC=$?
    fi
}

if [ ! -f "$ZIP" ] && [ -f "$PART" ] && unzip -tq "$PART" >/dev/null 2>&1; then
    # A download killed between its last byte and the rename below: nothing left to fetch.
    echo "$PART is already a complete zip; using it."
    mv "$PART" "$ZIP"
fi
if [ ! -f "$ZIP" ]; then
    if [ -f "$PART" ]; then
        echo "Resuming the download of $URL ($(wc -c <"$PART") bytes so far) ..."
        fetch resume
        # curl 33: the server ignores Range; 36: resume offset past the end (file://);
        # HTTP 416: the partial file is as long as the whole file or longer. None of these can
        # ever resume, so the partial file is discarded and the download starts afresh.
        why=""
        if [ "$RC" = 33 ]; then why="the server does not support resuming (it ignores Range requests)"
        elif [ "$RC" = 36 ] || [ "$CODE" = 416 ]; then
            why="$PART ($(wc -c <"$PART") bytes) is not a prefix of the file on the server"
        fi
        if [ -n "$why" ]; then
            echo "Cannot resume: $why; discarding $PART and downloading afresh ..." >&2
            rm -f "$PART"
            fetch fresh
        fi
    else
        echo "Downloading $URL to $ZIP ..."
        fetch fresh
    fi
    if [ "$RC" != 0 ]; then
        die "download of $URL failed ($TOOL exit $RC${CODE:+, HTTP $CODE}); run again to resume"
    fi
    mv "$PART" "$ZIP"
fi

echo "Checking $ZIP ..."
if ! unzip -tq "$ZIP" >/dev/null 2>&1; then
    rm -f "$ZIP"
    die "$ZIP is corrupt (unzip -t failed); removed it - run again to download it afresh"
fi

# Refuse entries that would land outside the target (absolute paths, .. components) and links
# (a link could point anywhere): unzip only skips or rewrites some of them, with a warning.
bad="$(unzip -Z1 "$ZIP" | grep -E '^/|^[A-Za-z]:|(^|[/\\])\.\.([/\\]|$)' | head -n 3 || true)"
links="$(unzip -Z "$ZIP" | grep -E '^l' | head -n 3 || true)"
if [ -n "$bad" ] || [ -n "$links" ]; then
    rm -f "$ZIP"
    if [ -n "$bad" ]; then
        die "the zip holds entries whose paths leave the target directory (e.g. $(echo "$bad" | tr '\n' ' ')); removed it - check RNNCAP_COCO_URL"
    fi
    die "the zip holds symbolic links, which the dataset never contains ($(echo "$links" | awk '{print $NF}' | tr '\n' ' ')); removed it - check RNNCAP_COCO_URL"
fi

TMP="$(mktemp -d "$PARENT/.coco_captioning.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "Extracting ..."
unzip -q "$ZIP" -d "$TMP" \
    || die "extracting $ZIP failed (unzip exit $?, its message is above; a full disk is one cause); nothing was changed in $PARENT, and the next run extracts the kept zip again"
# The listing was checked above; this catches anything unzip created that is not a file or folder.
odd="$(find "$TMP" ! -type f ! -type d | head -n 3)"
[ -z "$odd" ] || { rm -f "$ZIP"; die "the zip unpacked into something other than files and folders ($odd); removed it - check RNNCAP_COCO_URL"; }

# The zip holds the files either at its top level or inside one folder (coco_captioning/).
SRC="$TMP"
if [ -n "$(missing_in "$SRC")" ]; then
    for d in "$TMP"/*/; do
        if [ -z "$(missing_in "$d")" ]; then SRC="${d%/}"; break; fi
    done
fi
if [ -n "$(missing_in "$SRC")" ]; then
    rm -f "$ZIP"
    die "the downloaded zip does not contain the expected files (missing: $(missing_in "$TMP" | tr '\n' ' ')); removed it - check RNNCAP_COCO_URL"
fi

if [ -d "$DEST" ]; then rmdir "$DEST"; fi  # empty (checked above)
mv "$SRC" "$DEST" || die "cannot move the extracted data to $DEST"
rm -f "$ZIP"
echo "COCO captioning data is in $DEST"
