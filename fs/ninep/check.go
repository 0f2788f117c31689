package ninep

import (
	"encoding/binary"

	"github.com/enginefs/enginefs/errdefs"
)

// requestLayouts are the bodies of the requests p9 v0.3.0 serves, as its
// decoders read them: 1, 2, 4, 8 a field of that many bytes, s a string
// (len[2] then its bytes), w a walk's names (nwname[2] then as many
// strings), d a write's data (count[4] then count bytes). A message of
// another type, or whose body is shorter than its layout, is not 9P2000.L
// as p9 reads it: p9 would answer it and go on reading a stream it can no
// longer trust, so the connection ends instead.
var requestLayouts = map[byte]string{
	8:               "4",          // Tstatfs
	msgTlopen:       "44",         // fid flags
	msgTlcreate:     "4s444",      // fid name flags mode gid
	16:              "4ss4",       // Tsymlink
	18:              "4s4444",     // Tmknod
	msgTrename:      "44s",        // fid dfid name
	22:              "4",          // Treadlink
	24:              "48",         // Tgetattr
	26:              "4444488888", // Tsetattr: fid valid mode uid gid size atime[2] mtime[2]
	30:              "44s",        // Txattrwalk
	32:              "4s84",       // Txattrcreate
	40:              "484",        // Treaddir
	50:              "4",          // Tfsync
	52:              "414884s",    // Tlock
	54:              "41884s",     // Tgetlock
	70:              "44s",        // Tlink
	72:              "4s44",       // Tmkdir
	msgTrenameat:    "4s4s",
	76:              "4s4", // Tunlinkat
	msgTversion:     "4s",
	msgTauth:        "4ss", // answered here; diod's carries n_uname too
	msgTattach:      "44ss4",
	msgTflush:       "2",
	msgTwalk:        "44w",
	msgTread:        "484",
	msgTwrite:       "48d",
	msgTclunk:       "4",
	msgTremove:      "4",
	msgTwalkgetattr: "44w",
	msgTucreate:     "4s4444",
	130:             "4s444",   // Tumkdir
	132:             "4s44444", // Tumknod
	134:             "4ss44",   // Tusymlink
}

// checkRequest returns an errdefs.ErrInvalid error naming what is wrong
// with a request a client sent, or nil.
func checkRequest(f frame) error {
	layout, ok := requestLayouts[f.typ()]
	if !ok {
		return errdefs.Invalid("9P message of unknown type %d (%d bytes)", f.typ(), len(f))
	}
	b := []byte(f[headerLen:])
	short := func() error {
		return errdefs.Invalid("9P message of type %d: %d-byte body too short", f.typ(), len(f)-headerLen)
	}
	str := func() bool {
		if len(b) < 2 {
			return false
		}
		n := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+n {
			return false
		}
		b = b[2+n:]
		return true
	}
	for _, c := range layout {
		switch c {
		case '1', '2', '4', '8':
			n := int(c - '0')
			if len(b) < n {
				return short()
			}
			b = b[n:]
		case 's':
			if !str() {
				return short()
			}
		case 'w':
			if len(b) < 2 {
				return short()
			}
			n := int(binary.LittleEndian.Uint16(b))
			b = b[2:]
			for ; n > 0; n-- {
				if !str() {
					return short()
				}
			}
		case 'd':
			if len(b) < 4 || uint64(binary.LittleEndian.Uint32(b)) > uint64(len(b)-4) {
				return short()
			}
			b = b[4+binary.LittleEndian.Uint32(b):]
		}
	}
	return nil
}
