//go:build linux

package runtime

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParseNetDev(t *testing.T) {
	data := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     420       5    0    0    0     0          0         0      420       5    0    0    0     0       0          0
  eth0: 1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0
`)
	got, err := parseNetDev(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]NetworkStats{
		"lo":   {RxBytes: 420, RxPackets: 5, TxBytes: 420, TxPackets: 5},
		"eth0": {RxBytes: 1000, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 2000, TxPackets: 20, TxErrors: 3, TxDropped: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseNetDev = %+v, want %+v", got, want)
	}
	if _, err := parseNetDev([]byte("  lo: 1 2 3\n")); err == nil {
		t.Error("a short line parsed")
	}
}

func TestParseSystemCPU(t *testing.T) {
	data := []byte("cpu  10 1 20 300 4 5 6 7 0 0\ncpu0 5 0 10 150 2 2 3 3 0 0\nbtime 1700000000\n")
	got, err := parseSystemCPU(data)
	if want := uint64(10+1+20+300+4+5+6) * 1e7; err != nil || got != want {
		t.Errorf("parseSystemCPU = %d, %v; want %d", got, err, want)
	}
	if _, err := parseSystemCPU([]byte("intr 1\n")); err == nil {
		t.Error("no cpu line parsed")
	}
}

func TestParseStat(t *testing.T) {
	// comm with a space and a parenthesis; tty_nr 34816 is pts/0.
	line := "42 (my (prog) x) S 1 42 42 34816 42 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000 100 18446744073709551615"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{comm: "my (prog) x", ppid: 1, ttyNr: 34816, utime: 250, stime: 50, starttime: 12345}
	if st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	if _, err := parseStat([]byte("42 (x) S 1 2")); err == nil {
		t.Error("a short line parsed")
	}
}

func TestPsColumns(t *testing.T) {
	for nr, want := range map[int]string{0: "?", 34816: "pts/0", 34817: "pts/1", 1024 + 1: "tty1", 1024 + 64: "ttyS0", 1281: "console", 35072: "pts/256"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%d) = %q, want %q", nr, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "00:00:00", 61 * time.Second: "00:01:01", 25*time.Hour + 3*time.Second: "1-01:00:03"} {
		if got := psTime(d); got != want {
			t.Errorf("psTime(%v) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.Local)
	for start, want := range map[time.Time]string{
		now.Add(-time.Hour):       "11:00",
		now.Add(-48 * time.Hour):  "Jun13",
		now.AddDate(-1, 0, 0):     "2024",
		now.Add(-23 * time.Hour):  "13:00",
		now.Add(-365 * time.Hour): "May31",
	} {
		if got := psStartTime(start, now); got != want {
			t.Errorf("psStartTime(%v) = %q, want %q", start, got, want)
		}
	}
	p := ProcessInfo{User: "root", PID: 7, PPID: 1, C: 3, STIME: "11:00", TTY: "?", TIME: "00:00:00", CMD: "sleep 10"}
	if got := p.Row(); len(got) != len(PsTitles) || got[1] != "7" || got[7] != "sleep 10" {
		t.Errorf("Row = %q", got)
	}
}

func TestNoCgroup(t *testing.T) {
	ctx := context.Background()
	if _, err := ReadStats(ctx, "nosuch-container", 0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ReadStats = %v, want ErrNotFound", err)
	}
	if _, err := Processes(ctx, "nosuch-container"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Processes = %v, want ErrNotFound", err)
	}
	if _, err := Processes(ctx, "../x"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Processes with a bad id = %v, want ErrInvalid", err)
	}
}
