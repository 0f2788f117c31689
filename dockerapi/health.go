package dockerapi

import (
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// healthOf maps Config.Healthcheck to the create line: Test ["NONE"] is
// no-healthcheck, ["CMD-SHELL", CMD] health-cmd, any other test
// health-test words; zero durations and retries inherit the image's.
func healthOf(c *verbs.Create, h *container.HealthConfig) {
	if h == nil {
		return
	}
	if len(h.Test) > 0 && h.Test[0] == "NONE" {
		c.NoHealthcheck = true
		return
	}
	if len(h.Test) == 2 && h.Test[0] == "CMD-SHELL" {
		c.HealthCmd = h.Test[1]
	} else if len(h.Test) > 0 {
		c.HealthTest = h.Test
	}
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	c.HealthInterval, c.HealthTimeout = dur(h.Interval), dur(h.Timeout)
	c.HealthStartPeriod, c.HealthStartInterval = dur(h.StartPeriod), dur(h.StartInterval)
	if h.Retries != 0 {
		c.HealthRetries = strconv.Itoa(h.Retries)
	}
}
