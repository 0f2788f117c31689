#!/bin/sh
# The footprint of a gzip bomb in the image store, with the default caps:
# a 10 MB gzip docker-save archive holding a 10 GB layer, loaded, and the
# same layer pulled from a registry on loopback. Prints peak disk use
# (statfs, every 50 ms), the disk kept, peak RSS and the time of each.
# Needs root and ~25 GB free under ENGINEFS_BOMB_DIR (default /var/tmp).
# ENGINEFS_BOMB_SIZE sets the bytes of zeros (default 10 GiB).
set -e
cd "$(dirname "$0")/.."
export ENGINEFS_BOMB_DIR="${ENGINEFS_BOMB_DIR:-/var/tmp}"
exec go test ./imagestore -run '^$' -bench '^BenchmarkBombFootprint$' -benchtime 1x -timeout 60m -v
