package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// fuzzTypes are the entry types a fuzz input picks from (its first byte
// of an entry, modulo their number).
var fuzzTypes = []byte{
	tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar,
	tar.TypeBlock, tar.TypeFifo, tar.TypeXGlobalHeader, 'Z', // 'Z': a type Unpack does not know
}

// fuzzEntry is one tar entry decoded from a fuzz input.
type fuzzEntry struct {
	typ        byte
	name, link string
	mode       int64
	content    []byte
	xattr      string // a SCHILY.xattr key, or ""
}

// decodeFuzz turns data into tar entries: each entry is a type byte, then
// the name, the link name and the content as a length byte followed by
// that many bytes, then a mode byte (its bits spread over 07777) and a
// flag byte whose low bit adds an extended attribute (trusted.overlay.x
// when bit 1 is set, user.x otherwise). A short input ends the list.
func decodeFuzz(data []byte) []fuzzEntry {
	var out []fuzzEntry
	field := func() ([]byte, bool) {
		if len(data) == 0 {
			return nil, false
		}
		n := int(data[0])
		data = data[1:]
		if n > len(data) {
			return nil, false
		}
		f := data[:n]
		data = data[n:]
		return f, true
	}
	for len(data) > 0 && len(out) < 64 {
		e := fuzzEntry{typ: fuzzTypes[int(data[0])%len(fuzzTypes)]}
		data = data[1:]
		name, ok1 := field()
		link, ok2 := field()
		content, ok3 := field()
		if !ok1 || !ok2 || !ok3 || len(data) < 2 {
			break
		}
		e.name, e.link, e.content = string(name), string(link), content
		m := int64(data[0])
		e.mode = (m&7)<<6 | (m&7)<<3 | (m >> 3 & 7) | (m>>6&3)<<10 // rwx bits and two of the set-id/sticky ones
		if data[1]&1 != 0 {
			e.xattr = "user.x"
			if data[1]&2 != 0 {
				e.xattr = overlayXattrNS + "x"
			}
		}
		data = data[2:]
		out = append(out, e)
	}
	return out
}

// fuzzTar writes entries as a tar; an entry the tar writer refuses (a
// name it cannot encode) is left out.
func fuzzTar(entries []fuzzEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: e.mode, Devmajor: 1, Devminor: 3, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.content))
		}
		if e.xattr != "" {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr." + e.xattr: "y"}
		}
		if tw.WriteHeader(hdr) != nil {
			continue
		}
		if e.typ == tar.TypeReg {
			tw.Write(e.content)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// fuzzSeed encodes entries in decodeFuzz's format.
func fuzzSeed(entries ...fuzzEntry) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, byte(slices.Index(fuzzTypes, e.typ)))
		for _, f := range [][]byte{[]byte(e.name), []byte(e.link), e.content} {
			b = append(b, byte(len(f)))
			b = append(b, f...)
		}
		b = append(b, 0o7, 0)
	}
	return b
}

// FuzzUnpack feeds Unpack layers of arbitrary entries (hostile names,
// links, whiteouts, devices, reserved attributes): it either succeeds or
// fails with errdefs.ErrInvalid, and creates nothing outside the layer
// directory: the directory around it holds the same entries afterwards,
// and no absolute path that an entry names as a link target appeared.
func FuzzUnpack(f *testing.F) {
	requireRoot(f)
	reg := func(name, content string) fuzzEntry {
		return fuzzEntry{typ: tar.TypeReg, name: name, content: []byte(content)}
	}
	for _, seed := range [][]fuzzEntry{
		{reg("a", "x"), {typ: tar.TypeDir, name: "d/"}, reg("d/f", "y")},
		{reg("../escape", "x")},
		{reg("/abs/../../escape", "x")},
		{{typ: tar.TypeSymlink, name: "l", link: "/tmp"}, reg("l/escape", "x")},
		{{typ: tar.TypeSymlink, name: "l", link: "../.."}, reg("l/escape", "x")},
		{{typ: tar.TypeLink, name: "h", link: "../outside"}},
		{{typ: tar.TypeLink, name: "h", link: "/etc/passwd"}},
		{{typ: tar.TypeDir, name: "d"}, reg("d/.wh.gone", ""), reg("d/.wh..wh..opq", "")},
		{reg(".wh...", ""), reg(".wh..wh.plnk", "")},
		{{typ: tar.TypeChar, name: "c"}, {typ: tar.TypeFifo, name: "p"}, {typ: tar.TypeBlock, name: "b"}},
		{{typ: tar.TypeDir, name: "."}, reg(".", "x")},
		{{typ: tar.TypeSymlink, name: "s", link: "x"}, {typ: tar.TypeDir, name: "s"}, reg("s", "z")},
		{{typ: tar.TypeReg, name: "x", xattr: overlayXattrNS + "opaque"}},
		{{typ: 'Z', name: "unknown"}},
	} {
		f.Add(fuzzSeed(seed...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries := decodeFuzz(data)
		var absLinks []string
		for _, e := range entries {
			if p := filepath.Clean(e.link); filepath.IsAbs(p) {
				if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
					absLinks = append(absLinks, p)
				}
			}
		}
		base := t.TempDir()
		around := filepath.Join(base, "a", "b")
		layer := filepath.Join(around, "layer")
		if err := os.MkdirAll(layer, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(around, "sentinel"), []byte("s"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := listTree(t, base)
		done := make(chan error, 1)
		go func() {
			_, err := Unpack(context.Background(), bytes.NewReader(fuzzTar(entries)), layer)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("Unpack hangs on %+v:\n%s", entries, buf[:runtime.Stack(buf, true)])
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("Unpack: %v; want success or an invalid-argument error", err)
		}
		if after := listTree(t, base); !slices.Equal(withoutLayer(after), withoutLayer(before)) {
			t.Fatalf("outside the layer: before %q, after %q", withoutLayer(before), withoutLayer(after))
		}
		if b, _ := os.ReadFile(filepath.Join(around, "sentinel")); string(b) != "s" {
			t.Fatalf("the file beside the layer now holds %q", b)
		}
		for _, p := range absLinks {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%s appeared outside the layer", p)
			}
		}
	})
}

// withoutLayer drops what listTree lists inside the layer directory.
func withoutLayer(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		return bytes.HasPrefix([]byte(l), []byte("a/b/layer/"))
	})
}
