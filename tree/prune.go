package tree

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
)

// pruneContainers is prune on containers/ctl: Engine.Prune with the
// filters of the line; the reply is "ID SIZE" a line.
func (t *tree) pruneContainers(ctx context.Context, v verbs.ContainerPrune) (string, error) {
	match, err := pruneFilter(v, time.Now())
	if err != nil {
		return "", err
	}
	pruned, err := t.e.Prune(ctx, match)
	var b strings.Builder
	for _, p := range pruned {
		fmt.Fprintf(&b, "%s %d\n", p.ID, p.Size)
	}
	return b.String(), err
}

// containerSize is a container's size file: docker's SizeRw (the bytes of
// its changes) and SizeRootFs (those plus its image's).
type containerSize struct {
	SizeRw     int64 `json:"SizeRw"`
	SizeRootFs int64 `json:"SizeRootFs"`
}

// sizeDoc measures a container's changes and adds its image's size; an
// image gone meanwhile counts 0.
func (t *tree) sizeDoc(ctx context.Context, r engine.Record) ([]byte, error) {
	rw, err := t.e.SizeRw(r.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: size: %w", r.ID, err)
	}
	s := containerSize{SizeRw: rw, SizeRootFs: rw}
	if img, err := t.e.Image(ctx, r.ImageID); err == nil {
		s.SizeRootFs += img.Size
	}
	return jsonDoc(s)
}

// pruneFilter turns a prune's filters into a match; until= is checked here
// so that a bad one removes nothing.
func pruneFilter(v verbs.ContainerPrune, now time.Time) (func(engine.Record) bool, error) {
	var until time.Time
	if v.Until != "" {
		var err error
		if until, err = parseUntil(v.Until, now); err != nil {
			return nil, &ctl.Error{Verb: v.Verb(), Msg: "bad value (want RFC 3339, Unix seconds or a duration)", Word: "until=" + v.Until}
		}
	}
	return func(r engine.Record) bool {
		if !until.IsZero() && !r.Created.Before(until) {
			return false
		}
		for _, l := range v.Label {
			if !hasLabel(r.Config.Labels, l) {
				return false
			}
		}
		for _, l := range v.LabelNot {
			if hasLabel(r.Config.Labels, l) {
				return false
			}
		}
		return true
	}, nil
}

// hasLabel matches K (any value) or K=V.
func hasLabel(labels map[string]string, l string) bool {
	k, want, withValue := strings.Cut(l, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == want)
}

// parseUntil reads docker's until: a duration back from now (24h), Unix
// seconds with an optional fraction, or an RFC 3339 time.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
