package ninep

import (
	"encoding/binary"
	"fmt"
	"io"
	"syscall"

	"github.com/enginefs/enginefs/errdefs"
)

// The 9P2000.L message types the connection wrappers look at (p9 keeps its
// own unexported).
const (
	msgRlerror      = 7
	msgTlopen       = 12
	msgRlopen       = 13
	msgTlcreate     = 14
	msgRlcreate     = 15
	msgTrename      = 20
	msgRrename      = 21
	msgTrenameat    = 74
	msgRrenameat    = 75
	msgTversion     = 100
	msgTauth        = 102
	msgTattach      = 104
	msgRattach      = 105
	msgTflush       = 108
	msgRflush       = 109
	msgTwalk        = 110
	msgRwalk        = 111
	msgTread        = 116
	msgTwrite       = 118
	msgTclunk       = 120
	msgTremove      = 122
	msgTwalkgetattr = 126 // p9's Twalk that also answers the attributes (9P2000.L.Google)
	msgRwalkgetattr = 127
	msgTucreate     = 128 // p9's Tlcreate with a uid (9P2000.L.Google)
	msgRucreate     = 129
)

const (
	// headerLen is size[4] type[1] tag[2].
	headerLen = 7
	// maxMessage is the largest message either side accepts, p9's own
	// limit (a Tversion may not negotiate more).
	maxMessage = 4 << 20
	// noTag is the tag of Tversion, never a request's.
	noTag = 0xffff
)

// A frame is one whole 9P message: size[4] type[1] tag[2] body.
type frame []byte

func (f frame) typ() byte   { return f[4] }
func (f frame) tag() uint16 { return binary.LittleEndian.Uint16(f[5:]) }

// fid returns the first field of the body, the fid of Tread, Twrite,
// Tlopen, Tclunk and Tremove; ok is false if the message is too short.
func (f frame) fid() (uint32, bool) {
	if len(f) < headerLen+4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(f[headerLen:]), true
}

// body reads the fields of a message's body in order; a read past the end
// sets bad and returns zeros.
type body struct {
	b   []byte
	bad bool
}

func (f frame) body() *body { return &body{b: f[headerLen:]} }

func (r *body) u16() uint16 {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *body) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// str reads a string: len[2] then its bytes.
func (r *body) str() string {
	n := int(r.u16())
	if r.bad || len(r.b) < n {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// readFrame reads one message. A size outside [headerLen, maxMessage] is a
// protocol error: nothing after it can be framed, so the connection ends.
func readFrame(r io.Reader) (frame, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(size[:])
	if n < headerLen || n > maxMessage {
		return nil, errdefs.Invalid("9P message of %d bytes", n)
	}
	f := make(frame, n)
	copy(f, size[:])
	if _, err := io.ReadFull(r, f[4:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading a %d-byte 9P message: %w", n, err)
	}
	return f, nil
}

func header(size uint32, typ byte, tag uint16) frame {
	f := make(frame, size)
	binary.LittleEndian.PutUint32(f, size)
	f[4] = typ
	binary.LittleEndian.PutUint16(f[5:], tag)
	return f
}

// rlerror builds Rlerror(tag, errno).
func rlerror(tag uint16, errno syscall.Errno) frame {
	f := header(headerLen+4, msgRlerror, tag)
	binary.LittleEndian.PutUint32(f[headerLen:], uint32(errno))
	return f
}

// rflush builds Rflush(tag).
func rflush(tag uint16) frame { return header(headerLen, msgRflush, tag) }

// tflush builds Tflush(tag, oldtag).
func tflush(tag, oldtag uint16) frame {
	f := header(headerLen+2, msgTflush, tag)
	binary.LittleEndian.PutUint16(f[headerLen:], oldtag)
	return f
}

// framer collects the bytes p9 writes for one message, which its send()
// hands over in several Write calls, and yields whole messages. It is not
// safe for concurrent use; its owner locks.
type framer struct{ buf []byte }

// add appends p and calls emit for each whole message; a frame passed to
// emit is only valid during the call. An emit error stops and is returned.
func (w *framer) add(p []byte, emit func(frame) error) error {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= 4 {
		n := int(binary.LittleEndian.Uint32(w.buf))
		if n < headerLen {
			// Not a message p9 would write; pass the bytes on as they are.
			n = len(w.buf)
		}
		if len(w.buf) < n {
			break
		}
		err := emit(frame(w.buf[:n]))
		rest := copy(w.buf, w.buf[n:])
		w.buf = w.buf[:rest]
		if err != nil {
			return err
		}
	}
	if cap(w.buf) > 1<<20 && len(w.buf) == 0 {
		w.buf = nil // do not keep a large reply's buffer for ever
	}
	return nil
}
