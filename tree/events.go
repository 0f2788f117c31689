package tree

import (
	"context"
	"encoding/json"

	"github.com/docker/docker/api/types/events"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/fs"
)

// events is /events: one JSON line per event, shaped as docker's
// events.Message. Each open reads the recent events the engine keeps (up to
// engine.EventHistory) and then blocks for each new one, as `tail -f` does
// with a log; a reader that wants only new events skips those older than
// its open.
func (t *tree) events() fs.StreamFile {
	return func(context.Context) (fs.Stream, error) {
		return &eventStream{r: t.e.Events()}, nil
	}
}

type eventStream struct{ r *engine.EventReader }

func (s *eventStream) Next(ctx context.Context) ([]byte, error) {
	ev, err := s.r.Next(ctx)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(eventMessage(ev))
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func (s *eventStream) Close() error { return nil }

// eventMessage is an engine event in docker's shape, with the legacy fields
// (status, id, from) that older clients such as docker-compose 1.29 read,
// which docker fills for containers and images.
func eventMessage(ev engine.Event) events.Message {
	m := events.Message{
		Type:     events.Type(ev.Type),
		Action:   events.Action(ev.Action),
		Actor:    events.Actor{ID: ev.ID, Attributes: ev.Attributes},
		Scope:    "local",
		Time:     ev.Time.Unix(),
		TimeNano: ev.Time.UnixNano(),
	}
	switch ev.Type {
	case "container":
		m.Status, m.ID, m.From = ev.Action, ev.ID, ev.Attributes["image"]
	case "image":
		m.Status, m.ID = ev.Action, ev.ID
	}
	return m
}
