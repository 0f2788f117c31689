//go:build linux

package logs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// How long a follower sleeps without an event before it looks again: a
// safety net when inotify watches the directory, the only means when it
// cannot.
const (
	recheckWatched   = time.Second
	recheckUnwatched = 100 * time.Millisecond
)

// watchMask: a record appended to log.idx, log.idx created or renamed into
// place, the directory gone.
const watchMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// notifier is the process's one inotify instance, started by the first
// subscription. Its goroutine reads the events and wakes the subscribers of
// the directory where log.idx changed.
var notifier struct {
	once sync.Once
	f    *os.File // the inotify instance; nil if inotify is unavailable
	fd   int      // its descriptor, for the watch calls (f.Fd would make f blocking)

	mu    sync.Mutex
	byWD  map[int32]*watch
	byDir map[string]*watch
}

// watch is one watched directory and its subscribers. A directory named by
// two paths has one watch (inotify returns the same descriptor).
type watch struct {
	wd   int32
	dirs []string // the paths it is known by in byDir
	subs map[*subscription]struct{}
	gone atomic.Bool // inotify dropped the watch (directory removed)
}

// subscription wakes one follower. wake holds at most one token, so a write
// between the follower's look and its wait is not lost.
type subscription struct {
	wake chan struct{}
	w    *watch // nil when the directory could not be watched
}

// subscribe returns a subscription to changes of dir/log.idx.
func subscribe(dir string) *subscription {
	s := &subscription{wake: make(chan struct{}, 1)}
	notifier.once.Do(startNotifier)
	if notifier.f == nil {
		return s
	}
	notifier.mu.Lock()
	defer notifier.mu.Unlock()
	w := notifier.byDir[dir]
	if w == nil {
		wd, err := unix.InotifyAddWatch(notifier.fd, dir, watchMask)
		if err != nil {
			return s // ENOSPC (watch limit) or a vanished dir: poll
		}
		w = notifier.byWD[int32(wd)]
		if w == nil {
			w = &watch{wd: int32(wd), subs: map[*subscription]struct{}{}}
			notifier.byWD[w.wd] = w
		}
		w.dirs = append(w.dirs, dir)
		notifier.byDir[dir] = w
	}
	w.subs[s] = struct{}{}
	s.w = w
	return s
}

// startNotifier opens the inotify instance and starts its reader.
func startNotifier() {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return // EMFILE: the instance limit; followers poll
	}
	notifier.byWD = map[int32]*watch{}
	notifier.byDir = map[string]*watch{}
	// Non-blocking, so reads park in the runtime's poller.
	notifier.fd = fd
	notifier.f = os.NewFile(uintptr(fd), "inotify")
	go readEvents(notifier.f)
}

// readEvents wakes subscribers until the descriptor fails, which it does
// not while the process lives.
func readEvents(f *os.File) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := f.Read(buf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "logs: inotify: %v; followers fall back to polling\n", err)
			notifier.mu.Lock()
			for _, w := range notifier.byWD {
				w.gone.Store(true)
				w.wakeAll()
			}
			notifier.mu.Unlock()
			return
		}
		notifier.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+nameLen]
			off += unix.SizeofInotifyEvent + nameLen
			if mask&unix.IN_Q_OVERFLOW != 0 {
				for _, w := range notifier.byWD {
					w.wakeAll()
				}
				continue
			}
			w := notifier.byWD[wd]
			if w == nil {
				continue
			}
			switch {
			case mask&unix.IN_IGNORED != 0:
				// The directory is gone; its followers poll.
				w.gone.Store(true)
				w.forget()
				w.wakeAll()
			case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
				w.wakeAll()
			case isIndex(string(bytes.TrimRight(name, "\x00"))):
				w.wakeAll()
			}
		}
		notifier.mu.Unlock()
	}
}

// isIndex reports whether name is the index or the rotated one (whose
// last record, Moved, sends its followers to the new index).
func isIndex(name string) bool { return name == IndexName || name == IndexName+RotatedSuffix }

// wakeAll wakes every subscriber of w; notifier.mu is held.
func (w *watch) wakeAll() {
	for s := range w.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// forget drops w from the notifier's maps; notifier.mu is held.
func (w *watch) forget() {
	if notifier.byWD[w.wd] == w {
		delete(notifier.byWD, w.wd)
	}
	for _, d := range w.dirs {
		if notifier.byDir[d] == w {
			delete(notifier.byDir, d)
		}
	}
}

// wait blocks until the directory may have changed, or ctx is done.
func (s *subscription) wait(ctx context.Context) error {
	d := recheckWatched
	if s.w == nil || s.w.gone.Load() {
		d = recheckUnwatched
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.wake:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancel ends the subscription, removing the watch with its last
// subscriber.
func (s *subscription) cancel() {
	w := s.w
	if w == nil {
		return
	}
	notifier.mu.Lock()
	defer notifier.mu.Unlock()
	delete(w.subs, s)
	if len(w.subs) == 0 && !w.gone.Load() {
		w.forget()
		_, _ = unix.InotifyRmWatch(notifier.fd, uint32(w.wd))
	}
}
