package imagestore

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// A gzip bomb is built without compressing gigabytes: a gzip file may hold
// several members one after the other (RFC 1952), read as one stream, so
// the zeros are one compressed MiB of zeros repeated.

// segment is a piece of an uncompressed stream: bytes, or n zeros.
type segment struct {
	b     []byte
	zeros int64
}

// zeroMiB is the gzip member of 1 MiB of zeros.
var zeroMiB = func() []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	return buf.Bytes()
}()

// gzipMember compresses b as one gzip member.
func gzipMember(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// bombOf writes the gzip compression of segs to w and returns the sha256
// and length of the uncompressed stream.
func bombOf(t testing.TB, w io.Writer, segs []segment) (string, int64) {
	t.Helper()
	h := sha256.New()
	var n int64
	zero := make([]byte, 1<<20)
	for _, s := range segs {
		if s.b != nil {
			w.Write(gzipMember(s.b))
			h.Write(s.b)
			n += int64(len(s.b))
			continue
		}
		for left := s.zeros; left > 0; {
			c := min(left, 1<<20)
			if c == 1<<20 {
				w.Write(zeroMiB)
			} else {
				w.Write(gzipMember(zero[:c]))
			}
			h.Write(zero[:c])
			left -= c
			n += c
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n
}

// tarHeader is the header block(s) of a regular file of size n.
func tarHeader(t testing.TB, name string, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: n, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes() // written at once; the data is the caller's
}

// padding is what follows n bytes of a tar member's data.
func padding(n int64) int64 { return (512 - n%512) % 512 }

// bombTar returns the segments of a layer tar holding one file of n zeros.
func bombTar(t testing.TB, n int64) []segment {
	return []segment{{b: tarHeader(t, "zeros", n)}, {zeros: n + padding(n) + 1024}}
}

// segLen is the length of segs.
func segLen(segs []segment) int64 {
	var n int64
	for _, s := range segs {
		n += int64(len(s.b)) + s.zeros
	}
	return n
}

// bombLayer returns a gzip layer blob holding a file of n zeros, and its
// diff id.
func bombLayer(t testing.TB, n int64) ([]byte, string) {
	var buf bytes.Buffer
	diff, _ := bombOf(t, &buf, bombTar(t, n))
	return buf.Bytes(), diff
}

// bombConfig is an image config with the given diff ids.
func bombConfig(t testing.TB, diffs ...string) []byte {
	t.Helper()
	cfg := v1.ConfigFile{Architecture: runtime.GOARCH, OS: runtime.GOOS, RootFS: v1.RootFS{Type: "layers"}}
	for _, d := range diffs {
		h, err := v1.NewHash(d)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bombArchive writes a docker-save archive tagged bomb:latest whose one
// layer holds a file of n zeros, to a file in dir, and returns its path.
// With gzipArchive the whole archive is gzip-compressed and the layer a
// plain tar in it (docker save | gzip); else the archive is plain and the
// layer a gzip blob in it.
func bombArchive(t testing.TB, outDir string, n int64, gzipArchive bool) string {
	t.Helper()
	layer := bombTar(t, n)
	var layerBlob []byte
	var diff string
	if gzipArchive {
		var h = sha256.New()
		zero := make([]byte, 1<<20)
		for _, s := range layer {
			h.Write(s.b)
			for left := s.zeros; left > 0; left -= min(left, 1<<20) {
				h.Write(zero[:min(left, 1<<20)])
			}
		}
		diff = "sha256:" + hex.EncodeToString(h.Sum(nil))
	} else {
		layerBlob, diff = bombLayer(t, n)
	}
	cfg := bombConfig(t, diff)
	cfgName := sha256Hex(cfg) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bomb:latest"}, "Layers": []string{"bomb/layer.tar"}}})
	head := tarOf(t, file("manifest.json", string(manifest)), file(cfgName, string(cfg)), dir("bomb"))
	head = head[:len(head)-1024] // the end marker comes after the layer
	p := filepath.Join(outDir, "bomb.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if gzipArchive {
		lsize := segLen(layer)
		segs := append([]segment{{b: head}, {b: tarHeader(t, "bomb/layer.tar", lsize)}}, layer...)
		segs = append(segs, segment{zeros: padding(lsize) + 1024})
		bombOf(t, f, segs)
		p2 := p + ".gz"
		f.Close()
		if err := os.Rename(p, p2); err != nil {
			t.Fatal(err)
		}
		return p2
	}
	f.Write(head)
	f.Write(tarHeader(t, "bomb/layer.tar", int64(len(layerBlob))))
	f.Write(layerBlob)
	f.Write(make([]byte, padding(int64(len(layerBlob)))+1024))
	return p
}

// bombLayerT is a v1.Layer of a gzip blob whose diff id is known, so
// go-containerregistry never decompresses it.
type bombLayerT struct {
	blob []byte
	diff v1.Hash
}

func newBombLayer(t testing.TB, n int64) *bombLayerT {
	blob, diff := bombLayer(t, n)
	h, err := v1.NewHash(diff)
	if err != nil {
		t.Fatal(err)
	}
	return &bombLayerT{blob: blob, diff: h}
}

func (l *bombLayerT) Digest() (v1.Hash, error) {
	return v1.Hash{Algorithm: "sha256", Hex: sha256Hex(l.blob)}, nil
}
func (l *bombLayerT) DiffID() (v1.Hash, error) { return l.diff, nil }
func (l *bombLayerT) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}
func (l *bombLayerT) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.blob))
}
func (l *bombLayerT) Size() (int64, error)                { return int64(len(l.blob)), nil }
func (l *bombLayerT) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
