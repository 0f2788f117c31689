package engine

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"time"
)

// Event is one thing that happened to an object, named as docker's events
// name it: Type "container", Action "create", "start", "die", "exec_start:
// sh -c date", ...; ID the object's id; Attributes the container's name,
// image and labels plus what the action adds (exitCode, signal, execID,
// oldName).
type Event struct {
	Type       string
	Action     string
	ID         string
	Attributes map[string]string
	Time       time.Time
}

// EventHistory is how many past events the engine keeps for readers that
// start late (docker keeps 256; `docker events --since` replays them).
const EventHistory = 1024

// eventLog is the recent events, a ring with a sequence number per event,
// and the broadcast that wakes the readers. The zero value is ready.
type eventLog struct {
	mu      sync.Mutex
	ring    []Event // ring[seq%EventHistory] for seq in [first, next)
	first   uint64
	next    uint64
	changed chan struct{} // closed and replaced at each event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ring == nil {
		l.ring = make([]Event, EventHistory)
	}
	l.ring[l.next%EventHistory] = ev
	l.next++
	if l.next-l.first > EventHistory {
		l.first = l.next - EventHistory
	}
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// EventReader reads the engine's events in order, from the oldest kept when
// it was made, blocking for new ones. One goroutine uses it at a time.
type EventReader struct {
	l    *eventLog
	next uint64
}

// Events returns a reader of the events kept (up to EventHistory) followed
// by every event from now on.
func (e *Engine) Events() *EventReader {
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	return &EventReader{l: &e.events, next: e.events.first}
}

// Next returns the next event, blocking until there is one or ctx is done.
// A reader that fell more than EventHistory events behind skips to the
// oldest event kept: it lost the ones between.
func (r *EventReader) Next(ctx context.Context) (Event, error) {
	for {
		r.l.mu.Lock()
		r.next = max(r.next, r.l.first)
		if r.next < r.l.next {
			ev := r.l.ring[r.next%EventHistory]
			r.next++
			r.l.mu.Unlock()
			return ev, nil
		}
		if r.l.changed == nil {
			r.l.changed = make(chan struct{})
		}
		wake := r.l.changed
		r.l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// emit records an event of a container: its name, image and labels are
// attributes, as in docker, plus the pairs of extra (key, value, ...).
func (e *Engine) emit(rec Record, action string, extra ...string) {
	attrs := maps.Clone(rec.Config.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"] = rec.Name
	attrs["image"] = rec.Config.Image
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	e.events.add(Event{Type: "container", Action: action, ID: rec.ID, Attributes: attrs, Time: time.Now()})
}

// emitObject records an event of an image, a network or a volume (typ
// "image", "network", "volume"), as docker names them: id is the object's
// (an image's id, or the reference of a pull or push; a network's id; a
// volume's name) and attrs the pairs (key, value, ...) of its attributes.
func (e *Engine) emitObject(typ, action, id string, attrs ...string) {
	m := map[string]string{}
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	e.events.add(Event{Type: typ, Action: action, ID: id, Attributes: m, Time: time.Now()})
}

// itoa is strconv.Itoa, short for event attributes.
func itoa(n int) string { return strconv.Itoa(n) }
