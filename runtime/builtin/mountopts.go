//go:build linux

package builtin

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlag is what a mount option does to the flags of mount(2): set a
// flag, or clear it (as "rw" clears MS_RDONLY).
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags are the options of mount(8) that are flags; the others are
// passed to the filesystem as data.
var mountFlags = map[string]mountFlag{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationFlags are the propagation options, applied by a mount(2) of
// their own after the mount.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// mountOptions is a spec mount's options, split for mount(2).
type mountOptions struct {
	flags       uintptr
	propagation []uintptr
	data        string
}

// parseMountOptions splits options into flags, propagation changes and the
// filesystem's data, as mount(8) does.
func parseMountOptions(options []string) mountOptions {
	var o mountOptions
	var data []string
	for _, opt := range options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		data = append(data, opt)
	}
	o.data = strings.Join(data, ",")
	return o
}
