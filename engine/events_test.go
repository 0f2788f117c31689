package engine

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestEventLog(t *testing.T) {
	e := &Engine{}
	early := e.Events()
	for i := range 3 {
		e.events.add(Event{Action: strconv.Itoa(i)})
	}
	late := e.Events() // starts at the oldest kept, like early
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range []*EventReader{early, late} {
		for i := range 3 {
			ev, err := r.Next(ctx)
			if err != nil || ev.Action != strconv.Itoa(i) {
				t.Fatalf("event %d: %+v, %v", i, ev, err)
			}
		}
	}
	// Next blocks until the next event.
	got := make(chan Event, 1)
	go func() {
		ev, _ := early.Next(ctx)
		got <- ev
	}()
	select {
	case ev := <-got:
		t.Fatalf("Next returned %+v before any event", ev)
	case <-time.After(50 * time.Millisecond):
	}
	e.events.add(Event{Action: "later"})
	if ev := <-got; ev.Action != "later" {
		t.Errorf("woke with %+v", ev)
	}
	// A reader more than EventHistory behind skips to the oldest kept.
	for i := range EventHistory + 10 {
		e.events.add(Event{Action: "n" + strconv.Itoa(i)})
	}
	if ev, _ := late.Next(ctx); ev.Action != "n10" {
		t.Errorf("a reader that fell behind read %q, want n10", ev.Action)
	}
	short, cancelShort := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancelShort()
	r := e.Events()
	for range EventHistory {
		r.Next(ctx)
	}
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next at the end with a done context: %v", err)
	}
}

func TestEmitAttributes(t *testing.T) {
	e := &Engine{}
	r := e.Events()
	rec := Record{ID: "abc", Name: "web", Config: Config{Image: "busybox", Labels: map[string]string{"tier": "front"}}}
	e.emit(rec, "die", "exitCode", "3")
	ev, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "web", "image": "busybox", "tier": "front", "exitCode": "3"}
	if ev.Type != "container" || ev.Action != "die" || ev.ID != "abc" || len(ev.Attributes) != len(want) {
		t.Fatalf("%+v", ev)
	}
	for k, v := range want {
		if ev.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, ev.Attributes[k], v)
		}
	}
	if _, ok := rec.Config.Labels["name"]; ok {
		t.Error("emit changed the container's labels")
	}
}
