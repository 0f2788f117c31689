package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestCheckLogConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		lc   LogConfig
		want string // "" when valid
	}{
		{"json-file", LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3", "compress": "true"}}, ""},
		{"local defaults", LogConfig{Type: "local"}, ""},
		{"local compress, default files", LogConfig{Type: "local", Config: map[string]string{"compress": "true"}}, ""},
		{"syslog", LogConfig{Type: "syslog", Config: map[string]string{"syslog-address": "udp://127.0.0.1:514"}}, ""},
		{"none", LogConfig{Type: "none"}, ""},
		{"unknown driver", LogConfig{Type: "foo"}, `error looking up logging plugin foo: plugin "foo" not found`},
		{"unknown opt", LogConfig{Type: "json-file", Config: map[string]string{"bogus": "1"}}, "unknown log opt 'bogus' for json-file log driver"},
		{"opt of none", LogConfig{Type: "none", Config: map[string]string{"max-size": "1m"}}, "unknown log opt 'max-size' for none log driver"},
		{"bad size", LogConfig{Type: "json-file", Config: map[string]string{"max-size": "abc"}}, "invalid size: 'abc'"},
		{"no files", LogConfig{Type: "json-file", Config: map[string]string{"max-file": "0"}}, "max-file cannot be less than 1"},
		{"compress one file", LogConfig{Type: "json-file", Config: map[string]string{"compress": "true"}}, "compression cannot be enabled when max file count is 1"},
		{"syslog scheme", LogConfig{Type: "syslog", Config: map[string]string{"syslog-address": "http://x"}}, "unsupported scheme: 'http'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLogConfig(tc.lc)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckLogConfig(%+v) = %v, want nil", tc.lc, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalid)):
				t.Errorf("CheckLogConfig(%+v) = %v, want an invalid-argument error with %q", tc.lc, err, tc.want)
			}
		})
	}
}
