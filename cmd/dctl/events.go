package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	timetypes "github.com/docker/docker/api/types/time"
	"github.com/spf13/cobra"
)

// eventFilters are docker events' filters.
var eventFilters = map[string]bool{"container": true, "event": true, "type": true, "image": true, "label": true, "scope": true,
	"network": true, "volume": true}

// rfc3339NanoFixed is the time layout of docker events' lines.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// eventsCmd is docker events: the tree's events file, which replays the
// recent events and then follows, cut to --since and --until and
// filtered. Without --since only the events from now on are printed;
// with --until, dctl ends there.
func (c *cli) eventsCmd() *cobra.Command {
	var since, until, formatFlag string
	var filterFlags []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			now := time.Now()
			var from, to time.Time
			for _, tv := range []struct {
				v string
				t *time.Time
			}{{since, &from}, {until, &to}} {
				s, err := logTime(tv.v, now)
				if err != nil || s == "" {
					if err != nil {
						return err
					}
					continue
				}
				secs, nanos, err := timetypes.ParseTimestamps(s, 0)
				if err != nil {
					return fmt.Errorf("invalid value %q: %w", tv.v, err)
				}
				*tv.t = time.Unix(secs, nanos)
			}
			if !from.IsZero() && !to.IsZero() && from.After(to) {
				return fmt.Errorf("since time (%s) cannot be after until time (%s)", since, until)
			}
			f, err := parseFilters(filterFlags)
			if err != nil {
				return err
			}
			if err := f.Validate(eventFilters); err != nil {
				return err
			}
			var form *format
			if formatFlag != "" {
				if form, err = parseFormat(formatFlag, ""); err != nil {
					return err
				}
				form.table = false
			}
			if from.IsZero() {
				from = now
			}
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			if !to.IsZero() {
				var cancel context.CancelFunc
				// Past events are replayed at once: a short grace
				// for them when until is already over.
				ctx, cancel = context.WithDeadline(ctx, maxTime(to, now.Add(eventsHistoryGrace)))
				defer cancel()
			}
			h, err := client.Open(ctx, "events", os.O_RDONLY)
			if err != nil {
				return err
			}
			defer h.Close()
			sc := bufio.NewScanner(&handleReader{ctx: ctx, h: h})
			sc.Buffer(make([]byte, 64*1024), maxEventLine)
			for sc.Scan() {
				var m events.Message
				if json.Unmarshal(sc.Bytes(), &m) != nil {
					continue
				}
				t := time.Unix(0, m.TimeNano)
				if t.Before(from) || !matchEvent(f, m) {
					continue
				}
				if !to.IsZero() && t.After(to) {
					return nil
				}
				if form != nil {
					if err := form.write(os.Stdout, nil, []any{m}); err != nil {
						return err
					}
					continue
				}
				printEvent(os.Stdout, m)
			}
			if ctx.Err() != nil {
				return nil // until reached, or interrupted
			}
			return sc.Err()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "show all events created since timestamp")
	fl.StringVar(&until, "until", "", "stream events until this timestamp")
	fl.StringArrayVarP(&filterFlags, "filter", "f", nil, "filter output based on conditions provided")
	fl.StringVar(&formatFlag, "format", "", "format output using a custom template: 'json' or a Go template")
	return cmd
}

const (
	// eventsHistoryGrace is how long events --until reads the events file
	// when until is already past: the replay of past events arrives at
	// once.
	eventsHistoryGrace = 500 * time.Millisecond
	// maxEventLine caps one line of the events file (default 1 MiB).
	maxEventLine = 1 << 20
)

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// printEvent prints an event as docker events does:
// TIME TYPE ACTION ID (k=v, ...).
func printEvent(w io.Writer, m events.Message) {
	fmt.Fprintf(w, "%s %s %s %s", time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed), m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		kv := make([]string, 0, len(m.Actor.Attributes))
		for k, v := range m.Actor.Attributes {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		fmt.Fprintf(w, " (%s)", strings.Join(kv, ", "))
	}
	fmt.Fprintln(w)
}

// matchEvent applies docker events' filters to one event.
func matchEvent(f filters.Args, m events.Message) bool {
	action := string(m.Action)
	if f.Contains("type") && !f.ExactMatch("type", string(m.Type)) {
		return false
	}
	if f.Contains("event") && !f.ExactMatch("event", action) && !f.ExactMatch("event", strings.SplitN(action, ":", 2)[0]) {
		return false
	}
	if f.Contains("scope") && !f.ExactMatch("scope", m.Scope) {
		return false
	}
	attrs := m.Actor.Attributes
	if f.Contains("container") && (m.Type != events.ContainerEventType ||
		!(f.FuzzyMatch("container", m.Actor.ID) || f.FuzzyMatch("container", attrs["name"]))) {
		return false
	}
	if f.Contains("image") {
		ok := false
		for _, img := range f.Get("image") {
			ok = ok || sameImageRef(img, attrs["image"]) || sameImageRef(img, m.From)
			if m.Type == events.ImageEventType {
				ok = ok || img == m.Actor.ID || sameImageRef(img, attrs["name"]) ||
					(len(img) >= 4 && strings.HasPrefix(strings.TrimPrefix(m.Actor.ID, "sha256:"), strings.TrimPrefix(img, "sha256:")))
			}
		}
		if !ok {
			return false
		}
	}
	if f.Contains("network") && (m.Type != events.NetworkEventType ||
		!(f.FuzzyMatch("network", m.Actor.ID) || f.ExactMatch("network", attrs["name"]))) {
		return false
	}
	if f.Contains("volume") && (m.Type != events.VolumeEventType || !f.ExactMatch("volume", m.Actor.ID)) {
		return false
	}
	if f.Contains("label") && !f.MatchKVList("label", attrs) {
		return false
	}
	return true
}
