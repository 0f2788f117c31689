package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/enginefs/enginefs/errdefs"
)

// historyGrace is how long a request for past events only (until before
// now) reads the tree's events file: the events it replays are in memory,
// so they come at once; after it, nothing older can come.
const historyGrace = 200 * time.Millisecond

// eventFilters are the filters of GET /events the bridge applies.
var eventFilters = map[string]bool{"container": true, "event": true, "type": true, "image": true, "label": true, "scope": true,
	"network": true, "volume": true}

// events is GET /events: the tree's events file, which replays the recent
// events and then follows, cut to since and until and filtered as docker
// filters. Without since, only events from the request on are sent.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	opened := time.Now()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return errdefs.Invalid("since time (%s) cannot be after until time (%s)", q.Get("since"), q.Get("until"))
	}
	f, err := filters.FromJSON(q.Get("filters"))
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	if err := f.Validate(eventFilters); err != nil {
		return errdefs.Invalid("%v", err)
	}
	if !until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, maxTime(until, opened.Add(historyGrace)))
		defer cancel()
	}
	h, err := s.tree.Open(ctx, "events", os.O_RDONLY)
	if err != nil {
		return err
	}
	defer h.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush(w)
	from := since
	if from.IsZero() {
		from = opened
	}
	var pending []byte
	buf := make([]byte, 32*1024)
	for {
		n, err := h.ReadAt(ctx, buf, 0)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			pending = pending[i+1:]
			var m events.Message
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			t := time.Unix(0, m.TimeNano)
			if t.Before(from) {
				continue
			}
			if !until.IsZero() && t.After(until) {
				return nil
			}
			if !matchEvent(f, m) {
				continue
			}
			rewriteExecID(&m)
			if werr := writeJSONBody(w, m); werr != nil {
				return werr
			}
			flush(w)
		}
		if err == io.EOF || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
			ok = ok || sameImage(img, attrs["image"]) || sameImage(img, m.From)
			if m.Type == events.ImageEventType {
				ok = ok || img == m.Actor.ID || sameImage(img, m.Actor.ID) || sameImage(img, attrs["name"]) ||
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

// rewriteExecID gives an exec event docker's exec id for the tree's exec
// number.
func rewriteExecID(m *events.Message) {
	if n, ok := m.Actor.Attributes["execID"]; ok && strings.HasPrefix(string(m.Action), "exec_") {
		m.Actor.Attributes["execID"] = execID(m.Actor.ID, n)
	}
}

// parseTime reads a time as docker's API sends it: Unix seconds with an
// optional fraction ("1700000000.123456789"), or RFC 3339. "" is the zero
// time.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	secs, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
		return time.Time{}, errdefs.Invalid("invalid time %q: want Unix seconds or RFC 3339", v)
	}
	var ns int64
	if frac != "" {
		ns, _ = strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	}
	return time.Unix(s, ns), nil
}
