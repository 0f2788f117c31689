package buildctx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

func TestFetch(t *testing.T) {
	testenv.NeedRoot(t) // the hash names the file's owner, root for the daemon
	lastMod := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	mux := http.NewServeMux()
	mux.HandleFunc("/files/data.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
		w.Write([]byte("payload"))
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("no date")) })
	mux.HandleFunc("/dl/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="../report.csv"`)
		w.Write([]byte("a,b"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Write([]byte("index"))
			return
		}
		http.Error(w, "  nope  ", http.StatusNotFound)
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "go away", http.StatusForbidden) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusBadGateway) })
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()

	tests := []struct {
		name, path, file, content string
		mtime                     time.Time
	}{
		{"last-modified", "/files/data.bin", "data.bin", "payload", lastMod},
		{"no date is the epoch", "/plain", "plain", "no date", time.Unix(0, 0)},
		{"content-disposition", "/dl/", "report.csv", "a,b", time.Unix(0, 0)},
		{"unnamed", "/", UnnamedFile, "index", time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, hash, err := Fetch(context.Background(), srv.Client(), srv.URL+tt.path, dir)
			if err != nil {
				t.Fatal(err)
			}
			if p != filepath.Join(dir, tt.file) {
				t.Errorf("path %q, want %q", p, filepath.Join(dir, tt.file))
			}
			if got := readFile(t, p); got != tt.content {
				t.Errorf("content %q", got)
			}
			st := lstat(t, p)
			if st.Mode&0o7777 != 0o600 || st.Uid != 0 {
				t.Errorf("mode %o owner %d, want 600 root", st.Mode&0o7777, st.Uid)
			}
			// (atime is set too, but hashing the file reads it.)
			if st.Mtim.Sec != tt.mtime.Unix() {
				t.Errorf("mtime %d, want %d", st.Mtim.Sec, tt.mtime.Unix())
			}
			if want := lazyOracle(t, dir, tt.file); hash != want {
				t.Errorf("hash %s, want %s", hash, want)
			}
		})
	}

	errs := []struct {
		name, url string
		class     error
		msg       string
	}{
		{"404", srv.URL + "/missing", errdefs.ErrNotFound, "failed to GET " + srv.URL + "/missing with status 404 Not Found: nope"},
		{"403", srv.URL + "/private", errdefs.ErrPermission, "failed to GET " + srv.URL + "/private with status 403 Forbidden: go away"},
		{"502", srv.URL + "/broken", errdefs.ErrUnavailable, "failed to GET " + srv.URL + "/broken with status 502 Bad Gateway: oops"},
		{"scheme", "ftp://127.0.0.1/x", errdefs.ErrInvalid, "unsupported URL scheme"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Fetch(context.Background(), srv.Client(), tt.url, t.TempDir())
			wantErr(t, err, tt.class, tt.msg)
			if err != nil && tt.name != "scheme" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err, tt.msg)
			}
		})
	}
	t.Run("same content, same hash", func(t *testing.T) {
		_, h1, err1 := Fetch(context.Background(), srv.Client(), srv.URL+"/files/data.bin", t.TempDir())
		_, h2, err2 := Fetch(context.Background(), srv.Client(), srv.URL+"/files/data.bin", t.TempDir())
		if err1 != nil || err2 != nil || h1 != h2 {
			t.Errorf("%s %v, %s %v", h1, err1, h2, err2)
		}
	})
}
