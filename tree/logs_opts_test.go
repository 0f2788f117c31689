package tree

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/logs"
)

// TestParseLogOpts: the options line of a logs file, docker logs'
// options.
func TestParseLogOpts(t *testing.T) {
	def := logOpts{stdout: true, stderr: true, tail: -1}
	with := func(f func(o *logOpts)) logOpts {
		o := def
		f(&o)
		return o
	}
	for _, tc := range []struct {
		line string
		want logOpts
		err  string // in the error
	}{
		{"logs", def, ""},
		{"logs stdout=false", with(func(o *logOpts) { o.stdout = false }), ""},
		{"logs stderr=false", with(func(o *logOpts) { o.stderr = false }), ""},
		{"logs tail=all", def, ""},
		{"logs tail=0", with(func(o *logOpts) { o.tail = 0 }), ""},
		{"logs tail=25", with(func(o *logOpts) { o.tail = 25 }), ""},
		{"logs timestamps=true follow=true format=framed", with(func(o *logOpts) { o.timestamps, o.follow, o.framed = true, true, true }), ""},
		{"logs format=plain", def, ""},
		{"logs since=1700000000.5 until=2023-11-14T22:13:30Z", with(func(o *logOpts) {
			o.since, o.until = time.Unix(1700000000, 500000000), time.Date(2023, 11, 14, 22, 13, 30, 0, time.UTC)
		}), ""},
		{"logs tail=-1", def, `"tail=-1"`},
		{"logs tail=some", def, `"tail=some"`},
		{"logs since=yesterday", def, `"since=yesterday"`},
		{"logs until=1.2.3", def, `"until=1.2.3"`},
		{"logs format=json", def, `"format=json"`},
		{"logs bogus=1", def, "bogus"},
		{"tail=3", def, "tail=3"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseLogOpts(tc.line)
			if tc.err != "" {
				if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%v, want an invalid argument naming %s", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestParseTimeForms: the times docker's API sends.
func TestParseTimeForms(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":                     time.Unix(1700000000, 0),
		"1700000000.5":                   time.Unix(1700000000, 500000000),
		"1700000000.000000001":           time.Unix(1700000000, 1),
		"0":                              time.Unix(0, 0),
		"2023-11-14T22:13:20Z":           time.Unix(1700000000, 0),
		"2023-11-14T23:13:20.25+01:00":   time.Unix(1700000000, 250000000),
		"2023-11-14T22:13:20.000000007Z": time.Unix(1700000000, 7),
	} {
		if got, err := ParseTime(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "1.2.3", "17x", "1700000000.1234567890", "1700000000.x", "2023-11-14"} {
		if _, err := ParseTime(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseTime(%q): %v, want invalid", bad, err)
		}
	}
}

// TestLogMessages: how the entries of a log become the messages read: a
// line per message, the time before the first part of each line of its
// own stream, docker's frame around each with format=framed, and nothing
// after until.
func TestLogMessages(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	entries := []logs.Entry{
		{Stream: logs.Stdout, Time: t0, Data: []byte("a")},
		{Stream: logs.Stderr, Time: t0.Add(time.Second), Data: []byte("e1\ne2\n")},
		{Stream: logs.Stdout, Time: t0.Add(2 * time.Second), Data: []byte("b\nc")},
		{Stream: logs.Stdout, Time: t0.Add(3 * time.Second), Data: []byte("\n")},
	}
	ts := func(d time.Duration) string { return t0.Add(d).Format(TimestampFormat) + " " }
	frame := func(s byte, p string) string {
		return string([]byte{s, 0, 0, 0, 0, 0, 0, byte(len(p))}) + p
	}
	for _, tc := range []struct {
		name string
		opts logOpts
		want []string
	}{
		{"plain", logOpts{stdout: true, stderr: true}, []string{"a", "e1\n", "e2\n", "b\n", "c", "\n"}},
		{"timestamps", logOpts{stdout: true, stderr: true, timestamps: true},
			[]string{ts(0) + "a", ts(time.Second) + "e1\n", ts(time.Second) + "e2\n", "b\n", ts(2*time.Second) + "c", "\n"}},
		{"stderr framed", logOpts{stderr: true, framed: true}, []string{frame(2, "e1\n"), frame(2, "e2\n")}},
		{"framed with timestamps", logOpts{stdout: true, timestamps: true, framed: true},
			[]string{frame(1, ts(0)+"a"), frame(1, "b\n"), frame(1, ts(2*time.Second)+"c"), frame(1, "\n")}},
		{"since", logOpts{stdout: true, stderr: true, since: t0.Add(1500 * time.Millisecond)}, []string{"b\n", "c", "\n"}},
		{"until", logOpts{stdout: true, stderr: true, until: t0.Add(1500 * time.Millisecond)}, []string{"a", "e1\n", "e2\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &logsHandle{opts: tc.opts, atStart: [3]bool{true, true, true}}
			var got []string
			for _, e := range entries {
				for _, m := range h.messages(e) {
					got = append(got, string(m))
				}
				if h.phase == phaseDone {
					break
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("messages\n%q\nwant\n%q", got, tc.want)
			}
			if until := !tc.opts.until.IsZero(); until != (h.phase == phaseDone) {
				t.Errorf("phase %v after the entries (until set: %v)", h.phase, until)
			}
		})
	}
	// The header's length is the payload's, big-endian on four bytes.
	h := &logsHandle{opts: logOpts{stdout: true, framed: true}, atStart: [3]bool{true, true, true}}
	big := bytes.Repeat([]byte("x"), 70000)
	m := h.messages(logs.Entry{Stream: logs.Stdout, Time: t0, Data: big})
	if len(m) != 1 || !bytes.Equal(m[0][:8], []byte{1, 0, 0, 0, 0, 1, 0x11, 0x70}) || len(m[0]) != 8+70000 {
		t.Errorf("the frame of 70000 bytes starts %v (%d bytes)", m[0][:8], len(m[0]))
	}
}
