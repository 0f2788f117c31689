//go:build !linux

package logs

import (
	"context"
	"time"
)

// recheck is how often a follower looks for new records where inotify is
// not available.
const recheck = 100 * time.Millisecond

// subscription makes a follower poll: there is no inotify here.
type subscription struct{}

func subscribe(dir string) *subscription { return &subscription{} }

// wait sleeps for the polling interval, or until ctx is done.
func (s *subscription) wait(ctx context.Context) error {
	t := time.NewTimer(recheck)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *subscription) cancel() {}
