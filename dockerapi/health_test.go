package dockerapi

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// TestHealthOf: Config.Healthcheck becomes the create line's health keys,
// so that the tree's config reads back what the API was given.
func TestHealthOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *container.HealthConfig
		want string
	}{
		{"none given", nil, "create image=busybox"},
		{"NONE", &container.HealthConfig{Test: []string{"NONE"}, Interval: time.Second}, "create image=busybox no-healthcheck=true"},
		{"shell", &container.HealthConfig{Test: []string{"CMD-SHELL", "pg_isready -U x"}, Interval: 500 * time.Millisecond,
			Timeout: time.Second, StartPeriod: time.Minute, StartInterval: 100 * time.Millisecond, Retries: 5},
			"create image=busybox health-cmd='pg_isready -U x' health-interval=500ms health-timeout=1s health-retries=5 " +
				"health-start-period=1m0s health-start-interval=100ms"},
		{"exec form", &container.HealthConfig{Test: []string{"CMD", "test", "-e", "/ok"}},
			"create image=busybox health-test=CMD health-test=test health-test=-e health-test=/ok"},
		{"inherit the test", &container.HealthConfig{Interval: time.Second}, "create image=busybox health-interval=1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := verbs.Create{Image: "busybox"}
			healthOf(&c, tc.h)
			if got := verbs.Line(c); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
