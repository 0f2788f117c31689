package engine

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// TestEffectiveHealth: the container's fields override the image's
// HEALTHCHECK one by one, as docker's create merges them; NONE or no test
// is no check.
func TestEffectiveHealth(t *testing.T) {
	img := &imagestore.Image{}
	img.Config.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Retries: 7}
	for _, tc := range []struct {
		name string
		img  *imagestore.Image
		c    *HealthConfig
		want *HealthConfig
	}{
		{"neither", &imagestore.Image{}, nil, nil},
		{"image's", img, nil, &HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Retries: 7}},
		{"command over the image's", img, &HealthConfig{Test: []string{"CMD-SHELL", "mine"}},
			&HealthConfig{Test: []string{"CMD-SHELL", "mine"}, Interval: time.Minute, Retries: 7}},
		{"interval over the image's", img, &HealthConfig{Interval: time.Second, Timeout: 2 * time.Second},
			&HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Second, Timeout: 2 * time.Second, Retries: 7}},
		{"NONE", img, &HealthConfig{Test: []string{"NONE"}}, nil},
		{"interval without a test", &imagestore.Image{}, &HealthConfig{Interval: time.Second}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EffectiveHealth(tc.img, tc.c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestMergeHealth: the config a container keeps is docker's merge: NONE
// stays, with the image's other fields (as dockerd 20.10 shows).
func TestMergeHealth(t *testing.T) {
	img := &imagestore.Image{}
	img.Config.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "check"}, Interval: time.Second, Retries: 1}
	got := mergeHealth(img, &HealthConfig{Test: []string{"NONE"}})
	if want := (&HealthConfig{Test: []string{"NONE"}, Interval: time.Second, Retries: 1}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := mergeHealth(&imagestore.Image{}, nil); got != nil {
		t.Errorf("no check anywhere: %+v", got)
	}
}

// TestValidateHealth: dockerd's checks and messages.
func TestValidateHealth(t *testing.T) {
	for _, tc := range []struct {
		h    HealthConfig
		want string // "" for valid
	}{
		{HealthConfig{Test: []string{"CMD", "x"}, Interval: time.Millisecond}, ""},
		{HealthConfig{Test: []string{"NONE"}}, ""},
		{HealthConfig{Interval: time.Microsecond}, "Interval in Healthcheck cannot be less than 1ms"},
		{HealthConfig{Timeout: -time.Second}, "Timeout in Healthcheck cannot be less than 1ms"},
		{HealthConfig{StartPeriod: 1}, "StartPeriod in Healthcheck cannot be less than 1ms"},
		{HealthConfig{StartInterval: 1}, "StartInterval in Healthcheck cannot be less than 1ms"},
		{HealthConfig{Retries: -1}, "Retries in Healthcheck cannot be negative"},
		{HealthConfig{Test: []string{"SHELL", "x"}}, `unknown Healthcheck type "SHELL"`},
		{HealthConfig{Test: []string{"CMD"}}, "Healthcheck CMD has no command"},
	} {
		err := validateHealth(&tc.h)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.h, err)
		case tc.want != "" && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want invalid %q", tc.h, err, tc.want)
		}
	}
}

// TestHealthRecord: docker's state machine: a success is healthy at once;
// failures count from the end of the start period, retries of them in a
// row are unhealthy; five results are kept.
func TestHealthRecord(t *testing.T) {
	started := time.Now()
	hc := HealthConfig{Retries: 2, StartPeriod: 10 * time.Second}
	h := &Health{Status: "starting"}
	res := func(code int, at time.Duration) *HealthResult {
		return &HealthResult{Start: started.Add(at), End: started.Add(at), ExitCode: code}
	}
	steps := []struct {
		code   int
		at     time.Duration
		status string
		streak int
	}{
		{1, time.Second, "starting", 0}, // within the start period: not counted
		{1, 2 * time.Second, "starting", 0},
		{1, 11 * time.Second, "starting", 1}, // past it: counted
		{0, 12 * time.Second, "healthy", 0},
		{1, 13 * time.Second, "healthy", 1},
		{1, 14 * time.Second, "unhealthy", 2},
		{1, 15 * time.Second, "unhealthy", 3},
		{0, 16 * time.Second, "healthy", 0},
	}
	for i, s := range steps {
		record(h, hc, res(s.code, s.at), started)
		if h.Status != s.status || h.FailingStreak != s.streak {
			t.Fatalf("step %d: %s streak %d, want %s streak %d", i, h.Status, h.FailingStreak, s.status, s.streak)
		}
	}
	if len(h.Log) != HealthLogEntries || h.Log[4].Start != started.Add(16*time.Second) {
		t.Errorf("log has %d results, the last at %v; want the last %d", len(h.Log), h.Log[len(h.Log)-1].Start, HealthLogEntries)
	}
	// A failure within the start period of a container that was healthy counts.
	h = &Health{Status: "healthy"}
	record(h, HealthConfig{Retries: 1, StartPeriod: time.Hour}, res(1, time.Second), started)
	if h.Status != "unhealthy" {
		t.Errorf("a healthy container failing within its start period: %s, want unhealthy", h.Status)
	}
}
