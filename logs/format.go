package logs

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// The names of the two files in a log directory.
const (
	LogName   = "log"
	IndexName = "log.idx"
)

// The layout of log.idx (see the package doc).
const (
	// Magic opens every index.
	Magic = "efslogix"
	// Version is the index format this package reads and writes.
	Version = 1
	// HeaderSize is the size of the header: Magic, Version (uint32) and
	// RecordSize (uint32).
	HeaderSize = 16
	// RecordSize is the size of one record.
	RecordSize = 24
)

// end is the stream of the record that ends a run.
const end Stream = 0

// moved is the stream of the record that ends a rotated index: the log
// goes on in the new files (see Rotation in the package doc).
const moved Stream = 3

// RotatedSuffix names the pair of files a rotation moved aside
// (log.1, log.idx.1).
const RotatedSuffix = ".1"

// maxRecord bounds the length of one record: Write splits larger writes,
// and a reader refuses a record claiming more (a corrupt index).
const maxRecord = 1 << 30

// record is one entry of log.idx.
type record struct {
	offset int64
	length uint32
	stream Stream
	nanos  int64
}

// header returns the header of a new index.
func header() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	binary.LittleEndian.PutUint32(b[8:], Version)
	binary.LittleEndian.PutUint32(b[12:], RecordSize)
	return b
}

// checkHeader returns an error of class errdefs.ErrInvalid unless b is the
// header of an index this package reads.
func checkHeader(name string, b []byte) error {
	if len(b) < HeaderSize || string(b[:8]) != Magic {
		return errdefs.Invalid("%s: not a log index", name)
	}
	v, size := binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
	if v != Version || size != RecordSize {
		return errdefs.Invalid("%s: index format %d with %d-byte records, this build reads format %d with %d-byte records",
			name, v, size, Version, RecordSize)
	}
	return nil
}

// put encodes rec into b, which holds at least RecordSize bytes.
func (rec record) put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], uint64(rec.offset))
	binary.LittleEndian.PutUint32(b[8:], rec.length)
	b[12] = byte(rec.stream)
	b[13], b[14], b[15] = 0, 0, 0
	binary.LittleEndian.PutUint64(b[16:], uint64(rec.nanos))
}

// decode reads a record from b, which holds at least RecordSize bytes,
// checking what a reader relies on.
func decode(b []byte) (record, error) {
	rec := record{
		offset: int64(binary.LittleEndian.Uint64(b[0:])),
		length: binary.LittleEndian.Uint32(b[8:]),
		stream: Stream(b[12]),
		nanos:  int64(binary.LittleEndian.Uint64(b[16:])),
	}
	switch {
	case rec.stream > moved:
		return rec, errdefs.Invalid("log index: record of unknown stream %d", rec.stream)
	case rec.offset < 0 || rec.length > maxRecord:
		return rec, errdefs.Invalid("log index: record of %d bytes at %d is out of bounds", rec.length, rec.offset)
	}
	return rec, nil
}

// time returns the record's time stamp.
func (rec record) time() time.Time { return time.Unix(0, rec.nanos) }

// String names the stream as Docker does.
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	case end:
		return "end"
	case moved:
		return "moved"
	}
	return fmt.Sprintf("stream(%d)", uint8(s))
}
