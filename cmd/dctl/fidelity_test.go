package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fidelityList is containers/list with what ps's filters look at: web
// running with a label, on the app network and a volume; db exited (3),
// healthy before; old made first and exited (0).
func fidelityList(now time.Time) string {
	return fmt.Sprintf(`[
{"Id":"cccc000000000000000000000000000000000000000000000000000000000003","Names":["/old"],"Image":"busybox",
 "ImageID":"sha256:%[4]s","Command":"true","Created":%[3]d,"State":"exited","Status":"Exited (0) 5 hours ago","ExitCode":0,
 "Labels":{}},
{"Id":"aaaa000000000000000000000000000000000000000000000000000000000001","Names":["/db"],"Image":"postgres:16",
 "Command":"postgres","Created":%[2]d,"State":"exited","Status":"Exited (3) 2 hours ago","ExitCode":3,
 "Labels":{"tier":"data"}},
{"Id":"bbbb000000000000000000000000000000000000000000000000000000000002","Names":["/web"],"Image":"nginx:alpine",
 "Command":"nginx","Created":%[1]d,"State":"running","Status":"Up About an hour (healthy)","Health":"healthy",
 "Labels":{"tier":"front","com.example.team":"web"},
 "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],
 "NetworkSettings":{"Networks":{"app":{"NetworkID":"a1b2c3d4"}}},
 "Mounts":[{"Type":"volume","Name":"html","Source":"/var/lib/enginefs/volumes/html/data","Destination":"/usr/share/nginx/html","Driver":"local"}]}
]`, now.Add(-time.Hour).Unix(), now.Add(-3*time.Hour).Unix(), now.Add(-6*time.Hour).Unix(), strings.Repeat("e", 64))
}

// TestPsFidelity: ps's --filter, --format, -n, -l and -s as docker's.
func TestPsFidelity(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"ps", "-a", "--format", "{{.Names}} {{.Status}}"},
			"web Up About an hour (healthy)\ndb Exited (3) 2 hours ago\nold Exited (0) 5 hours ago\n"},
		{"format table", []string{"ps", "--format", `table {{.ID}}\t{{.Names}}\t{{.Label "tier"}}`},
			"CONTAINER ID   NAMES     \nbbbb00000000   web       front\n"}, // docker's header stops at .Label
		{"format functions", []string{"ps", "--format", `{{upper .Names}} {{json .State}} {{.Labels}} {{join (split .Ports ", ") "|"}}`},
			"WEB \"running\" com.example.team=web,tier=front 0.0.0.0:8080->80/tcp\n"},
		{"format json", []string{"ps", "--format", "{{json .Networks}} {{.Mounts}} {{.LocalVolumes}} {{.HealthStatus}}"},
			"\"app\" html 1 healthy\n"},
		{"filter name", []string{"ps", "-a", "--filter", "name=d", "--format", "{{.Names}}"}, "db\nold\n"},
		{"filter exact name", []string{"ps", "-a", "-f", "name=^db$", "-q"}, "aaaa00000000\n"},
		{"filter status", []string{"ps", "-f", "status=exited", "--format", "{{.Names}}"}, "db\nold\n"},
		{"filter exited", []string{"ps", "-a", "-f", "exited=3", "--format", "{{.Names}}"}, "db\n"},
		{"filter label", []string{"ps", "-a", "-f", "label=tier", "--format", "{{.Names}}"}, "web\ndb\n"},
		{"filter label value", []string{"ps", "-a", "-f", "label=tier=data", "--format", "{{.Names}}"}, "db\n"},
		{"filter health", []string{"ps", "-a", "-f", "health=healthy", "--format", "{{.Names}}"}, "web\n"},
		{"filter health none", []string{"ps", "-a", "-f", "health=none", "--format", "{{.Names}}"}, "db\nold\n"},
		{"filter ancestor", []string{"ps", "-a", "-f", "ancestor=busybox:latest", "--format", "{{.Names}}"}, "old\n"},
		{"filter ancestor id", []string{"ps", "-a", "-f", "ancestor=eeeeee", "--format", "{{.Names}}"}, "old\n"},
		{"filter network", []string{"ps", "-a", "-f", "network=app", "--format", "{{.Names}}"}, "web\n"},
		{"filter volume", []string{"ps", "-a", "-f", "volume=html", "--format", "{{.Names}}"}, "web\n"},
		{"filter before", []string{"ps", "-a", "-f", "before=web", "--format", "{{.Names}}"}, "db\nold\n"},
		{"filter since", []string{"ps", "-a", "-f", "since=old", "--format", "{{.Names}}"}, "web\ndb\n"},
		{"filter id", []string{"ps", "-a", "-f", "id=aaaa", "--format", "{{.Names}}"}, "db\n"},
		{"filter publish", []string{"ps", "-a", "-f", "publish=80/tcp", "--format", "{{.Names}}"}, "web\n"},
		{"filter expose", []string{"ps", "-a", "-f", "expose=80", "-f", "expose=53/udp", "--format", "{{.Names}}"}, "web\n"},
		{"last", []string{"ps", "-n", "2", "--format", "{{.Names}}"}, "web\ndb\n"},
		{"latest", []string{"ps", "-l", "-q"}, "bbbb00000000\n"},
		{"size", []string{"ps", "-s", "--format", "{{.Names}} {{.Size}}"}, "web 2B (virtual 4MB)\n"},
		{"size column", []string{"ps", "-s", "-f", "name=web"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("containers/list", fidelityList(time.Now()))
			f.file("containers/bbbb000000000000000000000000000000000000000000000000000000000002/size", `{"SizeRw":2,"SizeRootFs":4000002}`)
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" {
				t.Fatalf("%v: %s", err, stderr)
			}
			if tc.want == "" {
				lines := strings.Split(stdout, "\n")
				if !strings.HasSuffix(strings.TrimSpace(lines[0]), "SIZE") || !strings.HasSuffix(lines[1], "2B (virtual 4MB)") {
					t.Errorf("printed\n%s\nwant a SIZE column of 2B (virtual 4MB)", stdout)
				}
				return
			}
			if stdout != tc.want {
				t.Errorf("printed\n%s\nwant\n%s", stdout, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown filter", []string{"ps", "-f", "colour=red"}, "invalid filter 'colour'"},
		{"bad filter", []string{"ps", "-f", "name"}, "bad format of filter (expected name=value)"},
		{"bad status", []string{"ps", "-f", "status=asleep"}, "invalid filter 'status=asleep'"},
		{"bad health", []string{"ps", "-f", "health=fine"}, "Unrecognised filter value for health: fine"},
		{"bad template", []string{"ps", "--format", "{{.Names"}, "template parsing error"},
		{"before nothing", []string{"ps", "-f", "before=nosuch"}, "No such container: nosuch"},
		{"unknown field", []string{"ps", "--format", "{{.Colour}}"}, "can't evaluate field Colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("containers/list", fidelityList(time.Now()))
			_, _, err := f.dctl(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestInspectFormat: inspect -f runs docker's template functions on the
// inspect document, a line per container.
func TestInspectFormat(t *testing.T) {
	f := newFakeTree()
	f.file("containers/web/inspect", `{"Id":"c1","Name":"/web","State":{"Status":"running","Running":true,"Pid":42},`+
		`"Config":{"Env":["PATH=/bin","A=1"],"Labels":{"tier":"front"}},"Args":["-g","daemon off;"],`+
		`"NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}}}`)
	f.file("containers/db/inspect", `{"Id":"c2","Name":"/db","State":{"Status":"exited","ExitCode":3},"Config":{"Env":[]}}`)
	f.file("containers/web/size", `{"SizeRw":12,"SizeRootFs":4000012}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"field", []string{"inspect", "-f", "{{.State.Status}}", "web", "db"}, "running\nexited\n"},
		{"json", []string{"inspect", "--format", "{{json .Config.Env}}", "web"}, "[\"PATH=/bin\",\"A=1\"]\n"},
		{"join", []string{"inspect", "-f", `{{join .Args ","}} {{index .Config.Labels "tier"}}`, "web"}, "-g,daemon off; front\n"},
		{"range", []string{"inspect", "-f", `{{range $p, $b := .NetworkSettings.Ports}}{{$p}}={{(index $b 0).HostPort}}{{end}}`, "web"}, "80/tcp=8080\n"},
		{"raw field", []string{"inspect", "-f", "{{.Name}} {{.State.Pid}}", "web"}, "/web 42\n"},
		{"size", []string{"inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "web"}, "12 4000012\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" || stdout != tc.want {
				t.Errorf("printed %q (%q, %v), want %q", stdout, stderr, err, tc.want)
			}
		})
	}
}

// TestImagesFormat: images --format as docker's.
func TestImagesFormat(t *testing.T) {
	f := newFakeTree()
	f.file("images/list", imageList(time.Now()))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "busybox"}, "busybox:latest bbbbbbbbbbbb\n"},
		{"table", []string{"images", "--format", `table {{.Repository}}\t{{.Size}}`, "app"}, "REPOSITORY   SIZE\napp          4MB\n"},
		{"json", []string{"images", "--format", "{{json .Digest}} {{lower .Tag}}", "busybox"}, "\"sha256:feed\" latest\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" || stdout != tc.want {
				t.Errorf("printed %q (%q, %v), want %q", stdout, stderr, err, tc.want)
			}
		})
	}
}

// TestLogsOptions: logs writes docker's options on the logs file and
// splits the framed output: stdout to stdout, stderr to stderr.
func TestLogsOptions(t *testing.T) {
	frame := func(stream byte, s string) string {
		return string([]byte{stream, 0, 0, 0, 0, 0, 0, byte(len(s))}) + s
	}
	for _, tc := range []struct {
		name string
		args []string
		line string
	}{
		{"plain", []string{"logs", "web"}, "logs format=framed"},
		{"tail and timestamps", []string{"logs", "--tail", "2", "-t", "web"}, "logs timestamps=true tail=2 format=framed"},
		{"tail all", []string{"logs", "-n", "all", "web"}, "logs format=framed"},
		{"since and until", []string{"logs", "--since", "2024-01-02T03:04:05Z", "--until", "1700000000", "web"},
			"logs since=1704164645.000000000 until=1700000000 format=framed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.optsFile("containers/web/logs", frame(1, "out\n")+frame(2, "err\n")+frame(1, "more\n"))
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stdout != "out\nmore\n" || stderr != "err\n" {
				t.Errorf("printed %q, %q (%v)", stdout, stderr, err)
			}
			if got := f.recorded(); len(got) != 1 || got[0] != "containers/web/logs: "+tc.line {
				t.Errorf("wrote %q, want %q", got, tc.line)
			}
		})
	}
	t.Run("relative since", func(t *testing.T) {
		f := newFakeTree()
		f.optsFile("containers/web/logs", "")
		if _, _, err := f.dctl(t, "logs", "--since", "10m", "web"); err != nil {
			t.Fatal(err)
		}
		got := f.recorded()
		var secs int64
		if len(got) != 1 || func() bool {
			_, err := fmt.Sscanf(got[0], "containers/web/logs: logs since=%d", &secs)
			return err != nil
		}() {
			t.Fatalf("wrote %q", got)
		}
		if d := time.Since(time.Unix(secs, 0)); d < 9*time.Minute || d > 11*time.Minute {
			t.Errorf("since is %v ago, want 10m", d)
		}
	})
	t.Run("bad since", func(t *testing.T) {
		f := newFakeTree()
		f.optsFile("containers/web/logs", "")
		if _, _, err := f.dctl(t, "logs", "--since", "yesterday", "web"); err == nil {
			t.Error("no error")
		}
		if got := f.recorded(); len(got) != 0 {
			t.Errorf("wrote %q", got)
		}
	})
}

// TestPort: port lists the published ports of inspect, docker's way.
func TestPort(t *testing.T) {
	f := newFakeTree()
	f.file("containers/web/inspect", `{"NetworkSettings":{"Ports":{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}],`+
		`"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"53/udp":null}}}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", []string{"port", "web"}, "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n443/tcp -> 0.0.0.0:8443\n"},
		{"one", []string{"port", "web", "80"}, "0.0.0.0:8080\n[::]:8080\n"},
		{"one with proto", []string{"port", "web", "443/tcp"}, "0.0.0.0:8443\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" || stdout != tc.want {
				t.Errorf("printed %q (%q, %v), want %q", stdout, stderr, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"port", "web", "53/udp"}, "no public port '53/udp' published for web"},
		{[]string{"port", "web", "8o"}, "invalid port"},
		{[]string{"port", "nosuch"}, "no such container: nosuch"},
	} {
		if _, _, err := f.dctl(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestEvents: events prints the events file's lines in docker's form, cut
// to --since and --until and filtered.
func TestEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local)
	ev := func(d time.Duration, typ, action, id string, attrs string) string {
		tn := t0.Add(d)
		return fmt.Sprintf(`{"Type":%q,"Action":%q,"Actor":{"ID":%q,"Attributes":{%s}},"scope":"local","time":%d,"timeNano":%d}`+"\n",
			typ, action, id, attrs, tn.Unix(), tn.UnixNano())
	}
	lines := []string{
		ev(0, "container", "create", "c1", `"image":"busybox","name":"web"`),
		ev(time.Second, "network", "connect", "n1", `"container":"c1","name":"bridge","type":"bridge"`),
		ev(2*time.Second, "container", "start", "c1", `"image":"busybox","name":"web"`),
		ev(time.Hour, "container", "die", "c1", `"exitCode":"0","image":"busybox","name":"web"`),
	}
	since := fmt.Sprint(t0.Unix())
	until := fmt.Sprint(t0.Add(time.Minute).Unix())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"since until", []string{"events", "--since", since, "--until", until},
			t0.Format(rfc3339NanoFixed) + " container create c1 (image=busybox, name=web)\n" +
				t0.Add(time.Second).Format(rfc3339NanoFixed) + " network connect n1 (container=c1, name=bridge, type=bridge)\n" +
				t0.Add(2*time.Second).Format(rfc3339NanoFixed) + " container start c1 (image=busybox, name=web)\n"},
		{"filter", []string{"events", "--since", since, "--until", until, "--filter", "type=container", "--filter", "event=start"},
			t0.Add(2*time.Second).Format(rfc3339NanoFixed) + " container start c1 (image=busybox, name=web)\n"},
		{"format", []string{"events", "--since", since, "--filter", "container=web", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"},
			"container create web\ncontainer start web\ncontainer die web\n"},
		{"format json", []string{"events", "--since", since, "-f", "event=die", "--format", "{{json .Actor.Attributes}}"},
			`{"exitCode":"0","image":"busybox","name":"web"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.stream("events", lines...)
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" || stdout != tc.want {
				t.Errorf("printed\n%s(%q, %v)\nwant\n%s", stdout, stderr, err, tc.want)
			}
		})
	}
	f := newFakeTree()
	f.stream("events", lines...)
	if _, _, err := f.dctl(t, "events", "--since", until, "--until", since); err == nil || !strings.Contains(err.Error(), "cannot be after") {
		t.Errorf("since after until: %v", err)
	}
	if _, _, err := f.dctl(t, "events", "-f", "colour=red"); err == nil || !strings.Contains(err.Error(), "invalid filter 'colour'") {
		t.Errorf("bad filter: %v", err)
	}
}

// TestRunFiles: run --env-file and --label-file read docker's file format
// (comments, KEY=VALUE, a bare KEY from the environment in an env file,
// dropped in a label file); flags come after
// the files' lines, so they win.
func TestRunFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DCTL_TEST_FROM_ENV", "client value")
	envFile := filepath.Join(dir, "env")
	os.WriteFile(envFile, []byte("# a comment\n\nA=1\nB=two words\nDCTL_TEST_FROM_ENV\nDCTL_TEST_UNSET\n"), 0o644)
	labelFile := filepath.Join(dir, "labels")
	os.WriteFile(labelFile, []byte("# labels\ntier=front\nflag\n"), 0o644)
	f := containerTree()
	_, stderr, err := f.dctl(t, "create", "--env-file", envFile, "-e", "A=9", "--label-file", labelFile, "-l", "team=web", "busybox")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	want := "containers/clone: create image=busybox env=A=1 env='B=two words' env='DCTL_TEST_FROM_ENV=client value' env=A=9 " +
		"label=tier=front label=team=web" // a bare key of a label file is dropped, as docker drops it
	if got := f.recorded(); len(got) != 1 || got[0] != want {
		t.Errorf("wrote %q\nwant %q", got, want)
	}
	os.WriteFile(envFile, []byte("BAD KEY=1\n"), 0o644)
	if _, _, err := f.dctl(t, "create", "--env-file", envFile, "busybox"); err == nil || !strings.Contains(err.Error(), "invalid env file") {
		t.Errorf("bad env file: %v", err)
	}
	if _, _, err := f.dctl(t, "create", "--env-file", filepath.Join(dir, "nosuch"), "busybox"); err == nil {
		t.Error("missing env file: no error")
	}
	if got := f.recorded(); len(got) != 0 {
		t.Errorf("a bad file still wrote %q", got)
	}
}
