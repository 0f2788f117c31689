package tree

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/logs"
)

// readLogs opens a logs handle over dir (no container: no follow), writes
// the options line and reads to the end.
func readLogs(t *testing.T, dir, opts string) string {
	t.Helper()
	h := &logsHandle{open: func() (entryReader, error) { return logs.Open(dir) }, opts: logOpts{stdout: true, stderr: true, tail: -1}}
	defer h.Close()
	ctx := context.Background()
	if opts != "" {
		if _, err := h.WriteAt(ctx, []byte(opts+"\n"), 0); err != nil {
			t.Fatalf("options %q: %v", opts, err)
		}
	}
	data, err := fs.ReadHandle(ctx, h)
	if err != nil {
		t.Fatalf("reading with %q: %v", opts, err)
	}
	return string(data)
}

func TestLogsFile(t *testing.T) {
	dir := t.TempDir()
	w, err := logs.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mid time.Time
	for i, rec := range []struct {
		s    logs.Stream
		data string
	}{{logs.Stdout, "one\ntwo\n"}, {logs.Stderr, "err1\n"}, {logs.Stdout, "three "}, {logs.Stdout, "still three\n"}} {
		if err := w.Write(rec.s, []byte(rec.data)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if i == 0 {
			mid = time.Now()
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.Close()

	if got := readLogs(t, dir, ""); got != "one\ntwo\nerr1\nthree still three\n" {
		t.Errorf("plain: %q", got)
	}
	if got := readLogs(t, dir, "logs stderr=false"); got != "one\ntwo\nthree still three\n" {
		t.Errorf("stdout only: %q", got)
	}
	if got := readLogs(t, dir, "logs tail=2"); got != "three \nstill three\n" && got != "three still three\n" {
		t.Errorf("tail=2: %q", got)
	}
	if got := readLogs(t, dir, "logs tail=0"); got != "" {
		t.Errorf("tail=0: %q", got)
	}
	since := strconv.FormatInt(mid.Unix(), 10) + "." + strconv.Itoa(mid.Nanosecond() + 1e9)[1:]
	if got := readLogs(t, dir, "logs since="+since); got != "err1\nthree still three\n" {
		t.Errorf("since the first write: %q", got)
	}
	if got := readLogs(t, dir, "logs until="+mid.UTC().Format(time.RFC3339Nano)); got != "one\ntwo\n" {
		t.Errorf("until after the first write: %q", got)
	}
	got := readLogs(t, dir, "logs timestamps=true stderr=false")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "Z three still three") || len(lines[0]) != len(TimestampFormat)-5+len(" one") {
		t.Errorf("timestamps: %q", got)
	}
	framed := readLogs(t, dir, "logs format=framed stdout=false")
	if framed != "\x02\x00\x00\x00\x00\x00\x00\x05err1\n" {
		t.Errorf("framed stderr: %q", framed)
	}

	h := &logsHandle{open: func() (entryReader, error) { return logs.Open(dir) }, opts: logOpts{stdout: true, stderr: true, tail: -1}}
	for _, bad := range []string{"logs tail=-1", "logs format=json", "logs since=soon", "tail=3", "logs bogus=1"} {
		if _, err := h.WriteAt(context.Background(), []byte(bad), 0); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := h.ReadAt(context.Background(), make([]byte, 4), 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if _, err := h.WriteAt(context.Background(), []byte("logs tail=1"), 0); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("options after a read: %v", err)
	}
	h.Close()
}
