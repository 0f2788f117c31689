package engine

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/logs"
)

// LogConfig is a container's logging driver and its options, docker's
// HostConfig.LogConfig: --log-driver and --log-opt.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// The logging drivers a container may name.
const (
	LogJSONFile = "json-file" // docker's default: JSON lines at LogPath
	LogLocal    = "local"     // rotated, DefaultLocalMaxSize x DefaultLocalMaxFile
	LogNone     = "none"      // no log kept; docker logs refuses
	LogSyslog   = "syslog"    // to a syslog receiver (syslog-address)
	LogJournald = "journald"  // the host's journal: refused (not written yet)
)

// DefaultLogDriver is the daemon's default driver (--log-driver), dockerd's.
const DefaultLogDriver = LogJSONFile

// The local driver's defaults, dockerd's: 100 MiB per file, 5 files.
const (
	DefaultLocalMaxSize = 100 << 20
	DefaultLocalMaxFile = 5
)

// JournaldSocket is where the host's journal listens; without it the
// journald driver is refused, as dockerd refuses it.
var JournaldSocket = "/run/systemd/journal/socket"

// logOpts are the options each driver takes, dockerd's names.
var logOpts = map[string][]string{
	LogJSONFile: {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"},
	LogLocal:    {"max-size", "max-file", "compress"},
	LogNone:     {},
	LogSyslog: {"syslog-address", "syslog-facility", "syslog-tls-ca-cert", "syslog-tls-cert", "syslog-tls-key",
		"syslog-tls-skip-verify", "syslog-format", "tag", "labels", "labels-regex", "env", "env-regex"},
	LogJournald: {"tag", "labels", "labels-regex", "env", "env-regex"},
}

// cacheOpts are the options of dockerd's dual logging (the local cache
// that docker logs reads for a driver that cannot be read), which every
// driver takes.
var cacheOpts = []string{"cache-disabled", "cache-max-size", "cache-max-file", "cache-compress"}

// The dual-logging cache's defaults, dockerd 20.10's: 20 MiB per file, 5
// files, compressed.
const (
	DefaultCacheMaxSize = 20 << 20
	DefaultCacheMaxFile = 5
)

// CachedLogName is the dual-logging cache's file in the container's
// directory, dockerd's.
const CachedLogName = "container-cached.log"

// LogDrivers returns the drivers a container may name, in docker info's
// order (journald is not among them: nothing writes to the journal yet).
func LogDrivers() []string {
	return []string{LogJSONFile, LogLocal, LogNone, LogSyslog}
}

// WithLogConfig sets the logging driver of containers that name none (the
// daemon's --log-driver and --log-opt). Default: json-file, no options.
func WithLogConfig(lc LogConfig) Option {
	return func(e *Engine) { e.logConfig = lc }
}

// CheckLogConfig returns an error of class errdefs.ErrInvalid, with
// dockerd's message, for an unknown driver, an option the driver does not
// take or a bad value.
func CheckLogConfig(lc LogConfig) error {
	allowed, ok := logOpts[lc.Type]
	if !ok {
		return errdefs.Invalid("error looking up logging plugin %s: plugin %q not found", lc.Type, lc.Type)
	}
	keys := make([]string, 0, len(lc.Config))
	for k := range lc.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(allowed, k) && (lc.Type == LogNone || !contains(cacheOpts, k)) {
			return errdefs.Invalid("unknown log opt '%s' for %s log driver", k, lc.Type)
		}
	}
	if err := checkLogValues(lc); err != nil {
		return errdefs.Invalid("failed to initialize logging driver: %w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkLogValues checks the values of the options dockerd checks when it
// starts the driver (this engine checks them at create).
func checkLogValues(lc LogConfig) error {
	o := lc.Config
	if lc.Type == LogJournald {
		if _, err := os.Stat(JournaldSocket); err != nil {
			return fmt.Errorf("journald is not enabled on this host")
		}
		// Nothing writes to the journal yet: refused rather than dropped.
		return fmt.Errorf("journald: not supported by this daemon yet (use syslog with syslog-address=unixgram:///dev/log)")
	}
	if v, ok := o["max-size"]; ok {
		if n, err := units.RAMInBytes(v); err != nil || (n <= 0 && lc.Type == LogLocal) {
			return fmt.Errorf("invalid size: '%s'", v)
		}
	}
	files := 1
	if v, ok := o["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("max-file: %q is not a number", v)
		}
		if n < 1 {
			return fmt.Errorf("max-file cannot be less than 1")
		}
		files = n
	} else if lc.Type == LogLocal {
		files = DefaultLocalMaxFile
	}
	if v, ok := o["compress"]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("error reading compress log option: %w", err)
		}
		if on && files == 1 {
			return fmt.Errorf("compression cannot be enabled when max file count is 1")
		}
	}
	if v, ok := o["cache-disabled"]; ok {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("invalid value for option cache-disabled: %s", v)
		}
	}
	if err := logs.CheckSyslogFacility(o["syslog-facility"]); err != nil {
		return err
	}
	if v, ok := o["syslog-address"]; ok {
		u, err := url.Parse(v)
		if err != nil || !contains([]string{"udp", "tcp", "tcp+tls", "unix", "unixgram"}, u.Scheme) {
			return fmt.Errorf("unsupported scheme: '%s'", schemeOf(v))
		}
	}
	return nil
}

func schemeOf(addr string) string {
	s, _, _ := strings.Cut(addr, "://")
	return s
}

// resolveLogConfig gives cfg the daemon's driver when it names none, or
// the daemon's options when it names the daemon's driver without options
// (as dockerd does), and checks the result.
func (e *Engine) resolveLogConfig(cfg *Config) error {
	def := e.logConfig
	if def.Type == "" {
		def.Type = DefaultLogDriver
	}
	switch {
	case cfg.LogConfig == nil || cfg.LogConfig.Type == "":
		lc := LogConfig{Type: def.Type, Config: maps.Clone(def.Config)}
		if cfg.LogConfig != nil && len(cfg.LogConfig.Config) > 0 {
			lc.Config = cfg.LogConfig.Config
		}
		cfg.LogConfig = &lc
	case cfg.LogConfig.Type == def.Type && len(cfg.LogConfig.Config) == 0:
		cfg.LogConfig.Config = maps.Clone(def.Config)
	}
	if cfg.LogConfig.Config == nil {
		cfg.LogConfig.Config = map[string]string{}
	}
	return CheckLogConfig(*cfg.LogConfig)
}

// OutputLogMax caps the daemon's own log of a container's output (the
// tree's log file; what attach, the stdout and stderr files and builds
// read as it is written): it is rotated at this size, keeping the last two
// parts, so it holds at most 2 x 32 MiB on disk whatever the container
// writes. docker logs reads the logging driver's files, which keep what
// the driver's options say.
const OutputLogMax = 32 << 20

// LocalLogName is the local driver's file in its directory, docker's
// (local-logs/container.log).
const LocalLogName = "local-logs/container.log"

// DriverLogPath returns the file the container's logging driver writes,
// as docker inspect's LogPath gives it: <id>-json.log in the container's
// directory for json-file, "" for drivers whose files are not docker's
// format to read (local: its own, none, syslog, journald).
func (e *Engine) DriverLogPath(rec Record) string {
	if lc := rec.Config.LogConfig; lc == nil || lc.Type == LogJSONFile {
		return filepath.Join(e.containerDir(rec.ID), rec.ID+"-json.log")
	}
	return ""
}

// jsonLog returns the keeper's json-file writer config of a container whose
// driver keeps files (json-file, local), nil for the others. It makes the
// local driver's directory.
func (e *Engine) jsonLog(rec Record) (*logs.JSONFileConfig, error) {
	lc := rec.Config.LogConfig
	if lc == nil {
		lc = &LogConfig{Type: LogJSONFile}
	}
	cfg := &logs.JSONFileConfig{MaxFile: 1}
	switch lc.Type {
	case LogJSONFile:
		cfg.Path = e.DriverLogPath(rec)
	case LogLocal:
		cfg.Path = filepath.Join(e.containerDir(rec.ID), LocalLogName)
		cfg.MaxSize, cfg.MaxFile, cfg.Compress = DefaultLocalMaxSize, DefaultLocalMaxFile, true
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return nil, errdefs.Unavailable("container %s: local log: %w", rec.ID, err)
		}
	case LogSyslog:
		if !cached(*lc) {
			return nil, nil
		}
		// dockerd 20.10's dual logging: a cache docker logs reads.
		cfg.Path = filepath.Join(e.containerDir(rec.ID), CachedLogName)
		cfg.MaxSize, cfg.MaxFile, cfg.Compress = DefaultCacheMaxSize, DefaultCacheMaxFile, true
		return cacheConfig(cfg, lc.Config, rec.ID)
	default:
		return nil, nil
	}
	o := lc.Config
	if v, ok := o["max-size"]; ok {
		n, err := units.RAMInBytes(v)
		if err != nil {
			return nil, errdefs.Invalid("container %s: log-opt max-size=%s: %w", rec.ID, v, err)
		}
		cfg.MaxSize = n
	}
	if v, ok := o["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.Invalid("container %s: log-opt max-file=%s: %w", rec.ID, v, err)
		}
		cfg.MaxFile = n
	}
	if v, ok := o["compress"]; ok {
		cfg.Compress, _ = strconv.ParseBool(v)
	}
	return cfg, nil
}

// syslogConfig returns the keeper's syslog config of a container whose
// driver is syslog, nil for the others. The tag is docker's default, the
// container's short id, unless tag= names one.
func syslogConfig(rec Record) *logs.SyslogConfig {
	lc := rec.Config.LogConfig
	if lc == nil || lc.Type != LogSyslog {
		return nil
	}
	tag := lc.Config["tag"]
	if tag == "" {
		tag = rec.ID
		if len(tag) > 12 {
			tag = tag[:12]
		}
	}
	return &logs.SyslogConfig{Address: lc.Config["syslog-address"], Facility: lc.Config["syslog-facility"], Tag: tag}
}

// cached reports whether a driver docker logs cannot read (syslog) keeps
// dockerd's dual-logging cache: unless cache-disabled says otherwise.
func cached(lc LogConfig) bool {
	off, _ := strconv.ParseBool(lc.Config["cache-disabled"])
	return !off
}

// cacheConfig applies the cache-max-size, cache-max-file and
// cache-compress options to the cache's config.
func cacheConfig(cfg *logs.JSONFileConfig, o map[string]string, id string) (*logs.JSONFileConfig, error) {
	if v, ok := o["cache-max-size"]; ok {
		n, err := units.RAMInBytes(v)
		if err != nil || n <= 0 {
			return nil, errdefs.Invalid("container %s: log-opt cache-max-size=%s: invalid size", id, v)
		}
		cfg.MaxSize = n
	}
	if v, ok := o["cache-max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errdefs.Invalid("container %s: log-opt cache-max-file=%s: want a number of at least 1", id, v)
		}
		cfg.MaxFile = n
	}
	if v, ok := o["cache-compress"]; ok {
		cfg.Compress, _ = strconv.ParseBool(v)
	}
	if cfg.MaxFile == 1 {
		cfg.Compress = false
	}
	return cfg, nil
}

// ErrNoReading is why docker logs of a container whose driver keeps
// nothing to read (none, or syslog with cache-disabled=true) is refused:
// dockerd's message.
const ErrNoReading = "configured logging driver does not support reading"

// ReadLogPath returns the file docker logs reads for the container, as
// dockerd reads it: the driver's own (json-file, local) or dockerd's
// dual-logging cache (syslog); its rotated files are beside it. A driver
// that keeps nothing to read is errdefs.ErrInvalid with dockerd's message.
func (e *Engine) ReadLogPath(rec Record) (string, error) {
	lc := rec.Config.LogConfig
	if lc == nil {
		lc = &LogConfig{Type: LogJSONFile}
	}
	switch {
	case lc.Type == LogJSONFile:
		return e.DriverLogPath(rec), nil
	case lc.Type == LogLocal:
		return filepath.Join(e.containerDir(rec.ID), LocalLogName), nil
	case lc.Type == LogSyslog && cached(*lc):
		return filepath.Join(e.containerDir(rec.ID), CachedLogName), nil
	}
	return "", errdefs.Invalid("container %s: %s", rec.ID, ErrNoReading)
}
