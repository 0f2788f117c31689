package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

// fuzzArchiveSeeds are small archives: docker-save, OCI layout, both,
// gzip-compressed, and a broken one.
func fuzzArchiveSeeds(t testing.TB) [][]byte {
	layer := tarOf(t, file("a", "b"))
	diff := "sha256:" + sha256Hex(layer)
	cfg := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diff + `"]}}`
	cfgHex := sha256Hex([]byte(cfg))
	docker := tarOf(t, file("manifest.json", `[{"Config":"`+cfgHex+`.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]`),
		file(cfgHex+".json", cfg), dir("l"), file("l/layer.tar", string(layer)))
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":` +
		strconv.Itoa(len(cfg)) + `,"digest":"sha256:` + cfgHex + `"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":` +
		strconv.Itoa(len(layer)) + `,"digest":"` + diff + `"}]}`
	idx := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":` + strconv.Itoa(len(m)) +
		`,"digest":"sha256:` + sha256Hex([]byte(m)) + `","annotations":{"io.containerd.image.name":"x:1"}}]}`
	oci := tarOf(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", idx),
		file("blobs/sha256/"+sha256Hex([]byte(m)), m), file("blobs/sha256/"+cfgHex, cfg),
		file("blobs/sha256/"+sha256Hex(layer), string(layer)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(docker)
	zw.Close()
	return [][]byte{docker, oci, gz.Bytes(), docker[:700], tarOf(t, symlink("manifest.json", "manifest.json"))}
}

// FuzzArchive opens any bytes as an image archive and reads its metadata
// and layer members, as Load does before it stores anything: it must
// fail cleanly, never panic, and keep to the caps.
func FuzzArchive(f *testing.F) {
	for _, s := range fuzzArchiveSeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) { fuzzArchiveBody(t, dir, data) })
}

// fuzzArchiveBody is FuzzArchive's check of one input.
func fuzzArchiveBody(t *testing.T, dir string, data []byte) {
	p := filepath.Join(dir, "a.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := openArchive(context.Background(), p, dir, archiveLimits{archive: 256 << 10, member: 64 << 10})
	if err != nil {
		return
	}
	defer a.Close()
	imgs, err := a.images(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
	if err != nil {
		return
	}
	for _, img := range imgs {
		for _, l := range img.layers {
			r, size, err := a.open(l.file)
			if err != nil {
				continue
			}
			if size > 64<<10 {
				t.Fatalf("member %s of %d bytes passed the 64 KiB cap", l.file, size)
			}
			buf := make([]byte, 512)
			r.Read(buf)
		}
	}
}

// FuzzArchiveMetadata puts fuzzed manifest.json, index.json and config
// documents into an archive (the config both as <hex>.json and as an OCI
// blob) and reads them as Load does.
func FuzzArchiveMetadata(f *testing.F) {
	layer := tarOf(f, file("a", "b"))
	diff := "sha256:" + sha256Hex(layer)
	cfg := `{"os":"linux","rootfs":{"type":"layers","diff_ids":["` + diff + `"]}}`
	f.Add([]byte(`[{"Config":"`+sha256Hex([]byte(cfg))+`.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`), []byte(`{"schemaVersion":2,"manifests":[]}`), []byte(cfg))
	f.Add([]byte(`[{"Config":"c","RepoTags":["UPPER:1"],"Layers":[]}]`), []byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+sha256Hex([]byte(cfg))+`"}]}`), []byte(cfg))
	f.Add([]byte(``), []byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+sha256Hex([]byte(cfg))+`","annotations":{"org.opencontainers.image.ref.name":"a/b:c"}}]}`), []byte(`{"rootfs":{"diff_ids":["sha256:zz"]}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, manifest, index, config []byte) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(name string, b []byte) {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o644})
			tw.Write(b)
		}
		if len(manifest) > 0 {
			add("manifest.json", manifest)
		}
		add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
		add("index.json", index)
		add(sha256Hex(config)+".json", config)
		add("blobs/sha256/"+sha256Hex(config), config)
		add("l.tar", layer)
		tw.Close()
		p := filepath.Join(dir, "m.tar")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := openArchive(context.Background(), p, dir, archiveLimits{archive: 256 << 10, member: 64 << 10})
		if err != nil {
			t.Fatalf("a well-formed tar refused: %v", err)
		}
		defer a.Close()
		imgs, err := a.images(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
		if err != nil {
			return
		}
		for _, img := range imgs {
			if img.cfg == nil || len(img.layers) != len(img.cfg.RootFS.DiffIDs) {
				t.Fatalf("image %s: %d layers for %v", img.configID, len(img.layers), img.cfg)
			}
		}
	})
}
