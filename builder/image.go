package builder

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/version"
)

// imageConfig is an image's config JSON as docker's legacy builder writes
// it (image.Image of moby's image package): its top-level keys in
// alphabetical order, the container configs in docker's field order.
type imageConfig struct {
	Architecture    string            `json:"architecture"`
	Author          string            `json:"author,omitempty"`
	Comment         string            `json:"comment,omitempty"`
	Config          *container.Config `json:"config"`
	Container       string            `json:"container,omitempty"`
	ContainerConfig *container.Config `json:"container_config,omitempty"`
	Created         time.Time         `json:"created"`
	DockerVersion   string            `json:"docker_version,omitempty"`
	History         []history         `json:"history,omitempty"`
	OS              string            `json:"os"`
	OSVersion       string            `json:"os.version,omitempty"`
	RootFS          rootFS            `json:"rootfs"`
	Variant         string            `json:"variant,omitempty"`
}

// history is one entry of an image's history, in docker's field order.
type history struct {
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Author     string    `json:"author,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids,omitempty"`
}

// parseImageConfig reads an image's config JSON. A config without a
// config object gets an empty one.
func parseImageConfig(data []byte) (*imageConfig, error) {
	var ic imageConfig
	if err := json.Unmarshal(data, &ic); err != nil {
		return nil, errdefs.Invalid("image config: %w", err)
	}
	if ic.Config == nil {
		ic.Config = &container.Config{}
	}
	return &ic, nil
}

// child returns the config of an image made on top of ic by one build
// step: run is the image's config after the step, probe the step's
// container config (what the cache compares), layer the new layer's diff
// id ("" for an empty layer).
func (ic *imageConfig) child(run, probe *container.Config, createdBy, author, layer string, now time.Time) *imageConfig {
	out := &imageConfig{
		Architecture:    ic.Architecture,
		Author:          author,
		Config:          copyConfig(run),
		ContainerConfig: copyConfig(probe),
		Created:         now,
		DockerVersion:   version.Version,
		History:         slices.Clone(ic.History),
		OS:              ic.OS,
		OSVersion:       ic.OSVersion,
		RootFS:          rootFS{Type: "layers", DiffIDs: slices.Clone(ic.RootFS.DiffIDs)},
		Variant:         ic.Variant,
	}
	h := history{Created: now, CreatedBy: createdBy, Author: author, EmptyLayer: layer == ""}
	if layer != "" {
		out.RootFS.DiffIDs = append(out.RootFS.DiffIDs, layer)
	}
	out.History = append(out.History, h)
	return out
}

// marshal encodes the config as the image's config blob.
func (ic *imageConfig) marshal() ([]byte, error) {
	data, err := json.Marshal(ic)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return data, nil
}

// copyConfig returns a deep copy of c (nil for nil).
func copyConfig(c *container.Config) *container.Config {
	if c == nil {
		return nil
	}
	out := *c
	out.Env = slices.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.Shell = slices.Clone(c.Shell)
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Labels = maps.Clone(c.Labels)
	out.Volumes = maps.Clone(c.Volumes)
	if c.ExposedPorts != nil {
		out.ExposedPorts = make(nat.PortSet, len(c.ExposedPorts))
		maps.Copy(out.ExposedPorts, c.ExposedPorts)
	}
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(c.Healthcheck.Test)
		out.Healthcheck = &h
	}
	if c.StopTimeout != nil {
		t := *c.StopTimeout
		out.StopTimeout = &t
	}
	return &out
}
