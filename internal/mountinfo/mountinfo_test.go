package mountinfo

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/engine`:         "/mnt/engine",
		`/tmp/a\040b`:         "/tmp/a b",
		`/x\011y\012z\134w`:   "/x\ty\nz\\w",
		`/bad\04`:             `/bad\04`,
		`/not\999octal\040ok`: `/not\999octal ok`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
