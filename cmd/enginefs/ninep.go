package main

import (
	flag "github.com/spf13/pflag"

	"github.com/enginefs/enginefs/fs/ninep"
)

// ninepFlags defines the 9P listeners' caps; the function it returns reads
// them once the flags are parsed.
func ninepFlags() func() ninep.Limits {
	conns := flag.Int("9p-max-conns", ninep.DefaultMaxConns, "9P connections served at once on one listener; more are closed at once")
	perHost := flag.Int("9p-max-conns-per-host", ninep.DefaultMaxConnsPerHost, "9P connections one TCP client address may hold")
	fids := flag.Int("9p-max-fids", ninep.DefaultMaxFids, "fids one 9P connection may hold (a walk past it gets EMFILE)")
	version := flag.Duration("9p-version-timeout", ninep.DefaultVersionTimeout, "how long a 9P connection may take to send Tversion before it is closed")
	return func() ninep.Limits {
		return ninep.Limits{MaxConns: *conns, MaxConnsPerHost: *perHost, MaxFids: *fids, VersionTimeout: *version}
	}
}
