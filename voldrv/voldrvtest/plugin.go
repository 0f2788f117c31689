package voldrvtest

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Plugin is a volume plugin serving directories under a root, the way a
// third-party plugin would: it speaks Docker's protocol and nothing of
// enginefs. Calls counts the requests by method, for tests to check what
// the daemon asked.
type Plugin struct {
	Root string

	mu          sync.Mutex
	vols        map[string]map[string]bool // name → ids that mounted it
	mountpoints map[string]string
	calls       map[string]int
	holds       map[string]chan struct{} // Creates held until released
	server      *http.Server
}

// HoldCreate makes the plugin's Create of the volume name wait until
// release is called, as a slow plugin's would.
func (p *Plugin) HoldCreate(name string) (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	p.holds[name] = ch
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// SetMountpoint makes later Mounts and Paths of the volume name answer
// dir, as a plugin that mounts its volumes somewhere new each time would.
func (p *Plugin) SetMountpoint(name, dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mountpoints[name] = dir
}

// mountpoint returns where the volume name is; p.mu is held.
func (p *Plugin) mountpoint(name string) string {
	if dir, ok := p.mountpoints[name]; ok {
		return dir
	}
	return filepath.Join(p.Root, name)
}

// Calls returns how many requests of method ("/VolumeDriver.Mount") came.
func (p *Plugin) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// Mounted reports whether the volume name is mounted by someone.
func (p *Plugin) Mounted(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.vols[name]) > 0
}

// ServePlugin serves a plugin named name on dir/name.sock until the test
// ends, its volumes under a temporary directory.
func ServePlugin(t testing.TB, dir, name string) *Plugin {
	t.Helper()
	p := &Plugin{Root: t.TempDir(), vols: map[string]map[string]bool{}, calls: map[string]int{}, holds: map[string]chan struct{}{}, mountpoints: map[string]string{}}
	sock := filepath.Join(dir, name+".sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	handle := func(method string, fn func(req map[string]any) any) {
		mux.HandleFunc("POST "+method, func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			p.calls[method]++
			p.mu.Unlock()
			req := map[string]any{}
			_ = json.NewDecoder(r.Body).Decode(&req)
			w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
			_ = json.NewEncoder(w).Encode(fn(req))
		})
	}
	str := func(req map[string]any, k string) string { s, _ := req[k].(string); return s }
	errReply := func(err error) any {
		if err != nil {
			return map[string]string{"Err": err.Error()}
		}
		return map[string]string{"Err": ""}
	}
	handle("/Plugin.Activate", func(map[string]any) any { return map[string][]string{"Implements": {"VolumeDriver"}} })
	handle("/VolumeDriver.Capabilities", func(map[string]any) any {
		return map[string]any{"Capabilities": map[string]string{"Scope": "local"}}
	})
	handle("/VolumeDriver.Create", func(req map[string]any) any {
		name := str(req, "Name")
		p.mu.Lock()
		hold := p.holds[name]
		p.mu.Unlock()
		if hold != nil {
			<-hold
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.vols[name]; !ok {
			p.vols[name] = map[string]bool{}
		}
		return errReply(os.MkdirAll(filepath.Join(p.Root, name), 0o755))
	})
	handle("/VolumeDriver.Remove", func(req map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		name := str(req, "Name")
		if len(p.vols[name]) > 0 {
			return map[string]string{"Err": "volume " + name + " is in use"}
		}
		delete(p.vols, name)
		return errReply(os.RemoveAll(filepath.Join(p.Root, name)))
	})
	handle("/VolumeDriver.Mount", func(req map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		name := str(req, "Name")
		if _, ok := p.vols[name]; !ok {
			return map[string]string{"Err": "volume " + name + " not found"}
		}
		p.vols[name][str(req, "ID")] = true
		return map[string]string{"Mountpoint": p.mountpoint(name), "Err": ""}
	})
	handle("/VolumeDriver.Unmount", func(req map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.vols[str(req, "Name")], str(req, "ID"))
		return errReply(nil)
	})
	handle("/VolumeDriver.Path", func(req map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		name := str(req, "Name")
		if _, ok := p.vols[name]; !ok {
			return map[string]string{"Err": "volume " + name + " not found"}
		}
		return map[string]string{"Mountpoint": p.mountpoint(name)}
	})
	handle("/VolumeDriver.Get", func(req map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		name := str(req, "Name")
		if _, ok := p.vols[name]; !ok {
			return map[string]string{"Err": "volume " + name + " not found"}
		}
		return map[string]any{"Volume": map[string]string{"Name": name, "Mountpoint": p.mountpoint(name)}}
	})
	handle("/VolumeDriver.List", func(map[string]any) any {
		p.mu.Lock()
		defer p.mu.Unlock()
		var vols []map[string]string
		for name := range p.vols {
			vols = append(vols, map[string]string{"Name": name, "Mountpoint": p.mountpoint(name)})
		}
		return map[string]any{"Volumes": vols}
	})
	p.server = &http.Server{Handler: mux}
	go p.server.Serve(l)
	t.Cleanup(func() { p.server.Close() })
	return p
}
