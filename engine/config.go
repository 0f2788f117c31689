package engine

import (
	"regexp"
	"strings"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// Config is what a user sets on a container before it starts. Field names
// follow docker's container config so the JSON reads the same.
type Config struct {
	Image string `json:"Image"`
	// Entrypoint overrides the image's; nil keeps it, an empty list clears it.
	Entrypoint []string `json:"Entrypoint"`
	// Cmd overrides the image's; nil keeps it.
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
	Hostname   string   `json:"Hostname"`
	User       string   `json:"User"`
	// AutoRemove removes the container when its process exits (run --rm).
	AutoRemove bool `json:"AutoRemove"`
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkName validates a container name as docker does.
func checkName(name string) error {
	if !validName.MatchString(name) || len(name) > 128 {
		return errdefs.Invalid("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// validate checks what can be checked without the image.
func (c *Config) validate() error {
	if c.Image == "" {
		return errdefs.Invalid("no image given (image=)")
	}
	if _, err := imagestore.ParseReference(c.Image); err != nil && !looksLikeID(c.Image) {
		return err
	}
	for _, kv := range c.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" {
			return errdefs.Invalid("invalid environment variable %q", kv)
		}
	}
	if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
		return errdefs.Invalid("working directory %q is not absolute", c.WorkingDir)
	}
	if c.Hostname != "" && !validName.MatchString(c.Hostname) {
		return errdefs.Invalid("invalid hostname %q", c.Hostname)
	}
	return nil
}

func looksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return len(s) >= 4 && strings.Trim(s, "0123456789abcdef") == ""
}

// process is the program a container runs, merged from the image and the
// container config by docker's rules.
type process struct {
	Args []string
	Env  []string
	Cwd  string
	User string
}

// merge applies docker's rules: an entrypoint given by the user replaces the
// image's entrypoint and drops the image's cmd; a cmd given by the user
// replaces the image's cmd; env adds to the image's, key by key.
func merge(img *imagestore.Image, c *Config) (process, error) {
	ic := img.Config.Config
	entry, cmd := ic.Entrypoint, ic.Cmd
	if c.Entrypoint != nil {
		entry, cmd = c.Entrypoint, nil
	}
	if c.Cmd != nil {
		cmd = c.Cmd
	}
	p := process{
		Args: append(append([]string{}, entry...), cmd...),
		Env:  mergeEnv(ic.Env, c.Env),
		Cwd:  firstOf(c.WorkingDir, ic.WorkingDir, "/"),
		User: firstOf(c.User, ic.User),
	}
	if len(p.Args) == 0 {
		return p, errdefs.Invalid("no command specified: the image has no Cmd or Entrypoint and none was given")
	}
	return p, nil
}

func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
