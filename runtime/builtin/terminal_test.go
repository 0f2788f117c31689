//go:build linux

package builtin

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enginefs/enginefs/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleReader collects what a terminal's master gives until the slave
// side is closed by everyone (EIO).
type consoleReader struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func readConsole(m *os.File) *consoleReader {
	c := &consoleReader{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *consoleReader) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitFor waits until the console has shown s.
func (c *consoleReader) waitFor(tb testing.TB, s string) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(c.String(), s) {
			return
		}
	}
	tb.Fatalf("the terminal never showed %q; it shows %q", s, c.String())
}

// checkTerminal drives a program that prints its tty and waits for a line:
// the size set on the master reaches it, and so does what is written.
func checkTerminal(t *testing.T, p runtime.Process, c *consoleReader, wantTTY func(string) bool) {
	t.Helper()
	m := p.Console()
	c.waitFor(t, "ready")
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 99}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, p); st.Code != 0 {
		t.Errorf("status %+v", st)
	}
	c.waitFor(t, "33 99")
	out := strings.ReplaceAll(c.String(), "\r", "")
	// tty prints the line before "isatty".
	l := lines(out)
	if i := slices.Index(l, "isatty"); i < 1 || !wantTTY(l[i-1]) {
		t.Errorf("tty printed %q", l)
	}
	for _, want := range []string{"isatty", "TERM=xterm", "got hello", "33 99"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal shows %q, lacking %q", out, want)
		}
	}
}

// terminalScript is what checkTerminal drives.
const terminalScript = `tty; test -t 0 && test -t 1 && test -t 2 && echo isatty; echo "TERM=$TERM"
echo ready; read line; echo "got $line"; stty size`

func TestTerminal(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Terminal: true, Args: []string{"sh", "-c",
		"test -c /dev/console && " + terminalScript}}, nil)
	p, _ := start(t, r, id, bundle, nil)
	checkTerminal(t, p, console(t, p), func(tty string) bool { return tty == "/dev/pts/0" || tty == "/dev/console" })
}

// console returns a reader of p's terminal, closed at the end of the test.
func console(t *testing.T, p runtime.Process) *consoleReader {
	t.Helper()
	m := p.Console()
	if m == nil {
		t.Fatal("Console() = nil with a terminal")
	}
	t.Cleanup(func() { m.Close() })
	return readConsole(m)
}

func TestTerminalNonRoot(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Terminal: true, User: "1000:1000", Args: []string{"sh", "-c",
		`stat -c %u "$(tty)" && ` + terminalScript}}, nil)
	p, _ := start(t, r, id, bundle, nil)
	c := console(t, p)
	checkTerminal(t, p, c, func(tty string) bool { return strings.HasPrefix(tty, "/dev/pts/") })
	if !strings.HasPrefix(c.String(), "1000") {
		t.Errorf("the terminal is not the user's: %q", c.String())
	}
}

func TestNoTerminal(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Args: []string{"sh", "-c", "test -t 0 || echo no tty"}}, nil)
	p, out := start(t, r, id, bundle, nil)
	if p.Console() != nil {
		t.Error("Console() without a terminal")
	}
	wait(t, p)
	if out() != "no tty\n" {
		t.Errorf("output %q", out())
	}
}

func TestTerminalInitialSize(t *testing.T) {
	r := newRuntime(t)
	id, bundle := newBundle(t, runtime.SpecOptions{Terminal: true, Args: []string{"stty", "size"}}, func(s *specs.Spec) {
		s.Process.ConsoleSize = &specs.Box{Height: 20, Width: 70}
	})
	p, _ := start(t, r, id, bundle, nil)
	c := console(t, p)
	wait(t, p)
	c.waitFor(t, "20 70")

	id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
	proc := execSpec(t, bundle, "stty", "size")
	proc.Terminal, proc.ConsoleSize = true, &specs.Box{Height: 21, Width: 71}
	e, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: proc})
	c = console(t, e)
	wait(t, e)
	c.waitFor(t, "21 71")
}
