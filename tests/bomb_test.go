//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// gzipBomb is a gzip layer blob (a tar of one file of n zeros), built as
// gzip members one after the other, so 1 GiB costs a compressed MiB
// repeated; diff is a made-up diff id (the store refuses the layer before
// it could check it).
func gzipBomb(t *testing.T, n int64) (blob []byte, diff string) {
	t.Helper()
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Size: n, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	out := member(hdr.Bytes())
	mib := member(make([]byte, 1<<20))
	for left := n + 1024; left > 0; left -= 1 << 20 { // the data and the end marker, rounded up
		out = append(out, mib...)
	}
	return out, "sha256:" + strings.Repeat("ab", 32)
}

// bombLayer is a v1.Layer of a gzip bomb whose diff id is given, so
// go-containerregistry never decompresses it.
type bombLayer struct {
	blob []byte
	diff v1.Hash
}

func (l *bombLayer) Digest() (v1.Hash, error) {
	h := sha256.Sum256(l.blob)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}, nil
}
func (l *bombLayer) DiffID() (v1.Hash, error) { return l.diff, nil }
func (l *bombLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}
func (l *bombLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.blob))
}
func (l *bombLayer) Size() (int64, error)                { return int64(len(l.blob)), nil }
func (l *bombLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// storeFiles lists what the daemon's image store holds but meta.db.
func storeFiles(t *testing.T, d *daemon) []string {
	t.Helper()
	root := filepath.Join(d.state, "images")
	var out []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && p != root && e.Name() != "meta.db" {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestBombRefused loads and pulls a gzip bomb (about 1 MiB that unpacks
// to 1 GiB) through a daemon started with --max-layer-size 64MiB: both
// are refused with a message naming the cap, the daemon logs each once,
// and the image store's files are as before.
func TestBombRefused(t *testing.T) {
	reg := startRegistry(t, registryMode{})
	d := startDaemon(t, "--max-layer-size", "64MiB")
	blob, diff := gzipBomb(t, 1<<30)
	const want = "unpacks to more than 64 MiB (--max-layer-size)"

	t.Run("load", func(t *testing.T) {
		cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{diff}}})
		sum := sha256.Sum256(cfg)
		cfgName := hex.EncodeToString(sum[:]) + ".json"
		manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bomb:latest"}, "Layers": []string{"bomb/layer.tar"}}})
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range []struct {
			name string
			body []byte
		}{{"manifest.json", manifest}, {cfgName, cfg}, {"bomb/layer.tar", blob}} {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(f.body)), Mode: 0o644})
			tw.Write(f.body)
		}
		tw.Close()
		p := filepath.Join(t.TempDir(), "bomb.tar")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		before := storeFiles(t, d)
		if _, _, err := d.trySh("echo load " + p + " > images/ctl"); err == nil {
			t.Fatal("the bomb was loaded")
		}
		if msg := d.sh("cat images/err"); !strings.Contains(msg, want) {
			t.Errorf("images/err %q: want %q", msg, want)
		}
		if after := storeFiles(t, d); !slices.Equal(before, after) {
			t.Errorf("image store changed:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("pull", func(t *testing.T) {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := v1.NewHash(diff)
		if img, err = mutate.AppendLayers(img, &bombLayer{blob: blob, diff: h}); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(reg.host + "/bomb:1")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		before := storeFiles(t, d)
		_, stderr, code := d.dctl("pull", reg.host+"/bomb:1")
		if code == 0 {
			t.Fatal("the bomb was pulled")
		}
		if !strings.Contains(stderr, want) {
			t.Errorf("dctl pull said %q: want %q", stderr, want)
		}
		if after := storeFiles(t, d); !slices.Equal(before, after) {
			t.Errorf("image store changed:\nbefore %v\nafter  %v", before, after)
		}
	})

	d.stop()
	log := d.out.String()
	for _, w := range []string{
		"refused image archive " + filepath.Join(os.TempDir()),
		fmt.Sprintf("refused image %s/bomb:1 from registry %s: ", reg.host, reg.host),
	} {
		if n := strings.Count(log, w); n != 1 {
			t.Errorf("the daemon logged %q %d times, want once:\n%s", w, n, log)
		}
	}
	if n := strings.Count(log, "refused "); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, log)
	}
}
