package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/enginefs/enginefs/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConfigName is the name of the runtime config in a bundle.
const ConfigName = "config.json"

// WriteBundle stores spec as dir/config.json, creating dir if needed. The
// file appears whole or not at all: it is written to a temporary file and
// renamed over config.json, so a crashed writer leaves either the old config
// or the new one. It is not synced to disk: a bundle is rebuilt at every
// start, and a crash of the machine ends its container too. The file is
// readable by root only (the environment may hold secrets).
func WriteBundle(dir string, spec *specs.Spec) error {
	if spec == nil {
		return errdefs.Invalid("bundle %s: no spec", dir)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return errdefs.Invalid("bundle %s: encode %s: %w", dir, ConfigName, err)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+ConfigName+".*")
	if err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("bundle %s: write %s: %w", dir, ConfigName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bundle %s: write %s: %w", dir, ConfigName, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ConfigName)); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return nil
}

// ReadBundle returns the spec stored in dir/config.json. A missing bundle or
// config is errdefs.ErrNotFound; a config that does not parse, or lacks the
// process or the root, is errdefs.ErrInvalid.
func ReadBundle(dir string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.NotFound("bundle %s: no %s: %w", dir, ConfigName, err)
		}
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, errdefs.Invalid("bundle %s: %s: %w", dir, ConfigName, err)
	}
	switch {
	case s.Process == nil:
		return nil, errdefs.Invalid("bundle %s: %s has no process", dir, ConfigName)
	case s.Root == nil || s.Root.Path == "":
		return nil, errdefs.Invalid("bundle %s: %s has no root path", dir, ConfigName)
	}
	return &s, nil
}
