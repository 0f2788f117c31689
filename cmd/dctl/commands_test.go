package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// rootCmd is dctl's command tree as main makes it, over c.
func rootCmd(c *cli) *cobra.Command {
	root := &cobra.Command{Use: "dctl", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(
		c.runCmd(), c.createCmd(), c.startCmd(), c.stopCmd(), c.restartCmd(), c.killCmd(), c.rmCmd(),
		c.simple("pause", "Pause all processes within one or more containers", verbs.ContainerPause{}),
		c.simple("unpause", "Unpause all processes within one or more containers", verbs.ContainerResume{}),
		c.waitCmd(), c.logsCmd(), c.psCmd(), c.inspectCmd(), c.renameCmd(), c.portCmd(), c.eventsCmd(),
		c.imagesCmd(), c.versionCmd(), c.infoCmd(),
		c.pullCmd(), c.pushCmd(), c.tagCmd(), c.rmiCmd(), c.historyCmd(), c.imageCmd(),
		c.networkCmd(), c.volumeCmd(),
		c.buildCmd(), c.commitCmd(), c.importCmd(),
	)
	return root
}

// dctl runs dctl with args over the tree, with os.Stdout and os.Stderr
// captured, and returns what it printed and its error.
func (f *fakeTree) dctl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	c := &cli{client: fs.Local(f.dir(""))}
	root := rootCmd(c)
	root.SetArgs(args)
	outR, outW, perr := os.Pipe()
	if perr != nil {
		t.Fatal(perr)
	}
	errR, errW, perr := os.Pipe()
	if perr != nil {
		t.Fatal(perr)
	}
	var outB, errB bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { io.Copy(&outB, outR); done <- struct{}{} }()
	go func() { io.Copy(&errB, errR); done <- struct{}{} }()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = root.ExecuteContext(ctx)
	cancel()
	os.Stdout, os.Stderr = oldOut, oldErr
	outW.Close()
	errW.Close()
	<-done
	<-done
	outR.Close()
	errR.Close()
	return outB.String(), errB.String(), err
}

// containerTree has the ctl of web and db and containers/clone, which
// hands out c0ffee and answers create with createErr.
func containerTree(createErr ...error) *fakeTree {
	f := newFakeTree()
	f.ctl("containers/web/ctl", nil)
	f.ctl("containers/db/ctl", func(line string) (string, error) {
		if strings.HasPrefix(line, "rm") && !strings.Contains(line, "force") {
			return "", errdefs.Busy("container db is running: stop it first or use force")
		}
		return "", nil
	})
	n := 0
	f.clone("containers/clone", "c0ffee", func(line string) (string, error) {
		if strings.HasPrefix(line, "create") {
			n++
			if n <= len(createErr) {
				return "", createErr[n-1]
			}
			return "c0ffee", nil
		}
		return "", nil
	})
	return f
}

// TestRun: run and create make the create line of their flags on
// containers/clone; run -d starts the container on the same open file.
func TestRun(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	t.Setenv("DCTL_TEST_B", "from the client")
	for _, tc := range []struct {
		name      string
		args      []string
		createErr []error
		lines     []string
		stdout    string
		stderr    string
		fails     bool
	}{
		{"run -d", []string{"run", "-d", "--name", "web", "-p", "8080:80", "-v", "./site:/site", "-e", "A=1", "--memory", "64m",
			"busybox", "sh", "-c", "x"}, nil,
			[]string{"containers/clone: create image=busybox name=web env=A=1 memory=64m publish=8080:80 volume=" + wd + "/site:/site -- sh -c x",
				"containers/clone: start"},
			"c0ffee\n", "", false},
		{"run -d with every kind of flag", []string{"run", "-d", "--rm", "-e", "DCTL_TEST_B", "-e", "DCTL_TEST_UNSET", "-w", "/w",
			"-u", "app", "--restart", "on-failure:2", "--cpus", "0.5", "--pids-limit", "9", "--cap-add", "NET_ADMIN", "--read-only",
			"--network", "app", "--ip", "10.9.0.5", "--network-alias", "www", "-P", "--expose", "53/udp",
			"--mount", "type=bind,src=./conf,dst=/etc/app", "--tmpfs", "/run:size=1m", "-v", "data:/data", "--ulimit", "nofile=10:20",
			"--entrypoint", "/bin/sh", "busybox", "-c", "echo hi"}, nil,
			[]string{"containers/clone: create image=busybox env='DCTL_TEST_B=from the client' workdir=/w user=app entrypoint=/bin/sh " +
				"rm=true restart=on-failure:2 cpus=0.5 pids-limit=9 cap-add=NET_ADMIN read-only=true ulimit=nofile=10:20 network=app " +
				"ip=10.9.0.5 alias=www publish-all=true expose=53/udp volume=data:/data mount=type=bind,src=" + wd + "/conf,dst=/etc/app " +
				"tmpfs=/run:size=1m -- -c 'echo hi'",
				"containers/clone: start"},
			"c0ffee\n", "", false},
		{"create", []string{"create", "-it", "--name", "box", "busybox"}, nil,
			[]string{"containers/clone: create image=busybox name=box tty=true stdin=true stdin-once=true"},
			"c0ffee\n", "", false},
		{"run -d pulls a missing image", []string{"run", "-d", "busybox"},
			[]error{errdefs.NotFound("No such image: busybox:latest")},
			[]string{"containers/clone: create image=busybox", "images/pulls/clone: pull busybox",
				"containers/clone: create image=busybox", "containers/clone: start"},
			"c0ffee\n", "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\n", false},
		{"run -d --pull never", []string{"run", "-d", "--pull", "never", "busybox"},
			[]error{errdefs.NotFound("No such image: busybox:latest")},
			[]string{"containers/clone: create image=busybox"}, "", "", true},
		{"run -d with a bad value", []string{"run", "-d", "-m", "lots", "busybox"},
			[]error{errdefs.Invalid("create: bad value: memory=lots")},
			[]string{"containers/clone: create image=busybox memory=lots"}, "", "", true},
		{"run -d on the host network with ports", []string{"run", "-d", "--network", "host", "-p", "80:80", "busybox"}, nil,
			[]string{"containers/clone: create image=busybox network=host publish=80:80", "containers/clone: start"},
			"c0ffee\n", "WARNING: Published ports are discarded when using host network mode\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := containerTree(tc.createErr...)
			f.clone("images/pulls/clone", "1", nil)
			f.stream("images/pulls/1/progress", `{"status":"Pulling from library/busybox","id":"latest"}`+"\n")
			stdout, stderr, err := f.dctl(t, tc.args...)
			sameLines(t, strings.Join(tc.args, " "), f.recorded(), tc.lines)
			if stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("printed %q and %q, want %q and %q", stdout, stderr, tc.stdout, tc.stderr)
			}
			if (err != nil) != tc.fails {
				t.Errorf("error %v, want one: %v", err, tc.fails)
			}
			var ce codeError
			if tc.fails && (!errorsAs(err, &ce) || ce.code != 125) {
				t.Errorf("error %#v, want exit code 125", err)
			}
		})
	}
}

// errorsAs is errors.As for a codeError.
func errorsAs(err error, ce *codeError) bool {
	for err != nil {
		if c, ok := err.(codeError); ok {
			*ce = c
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestContainerCommands: the commands over containers write their verb on
// each container's ctl and print the names as typed.
func TestContainerCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		lines  []string
		stdout string
		stderr string
		fails  bool
	}{
		{"stop -t 3", []string{"stop", "-t", "3", "web"}, []string{"containers/web/ctl: stop 3"}, "web\n", "", false},
		{"stop", []string{"stop", "web", "db"}, []string{"containers/web/ctl: stop", "containers/db/ctl: stop"}, "web\ndb\n", "", false},
		{"stop --time 0", []string{"stop", "--time", "0", "web"}, []string{"containers/web/ctl: stop 0"}, "web\n", "", false},
		{"start", []string{"start", "web"}, []string{"containers/web/ctl: start"}, "web\n", "", false},
		{"restart -t 1", []string{"restart", "-t", "1", "web"}, []string{"containers/web/ctl: restart 1"}, "web\n", "", false},
		{"kill", []string{"kill", "web"}, []string{"containers/web/ctl: kill KILL"}, "web\n", "", false},
		{"kill -s HUP", []string{"kill", "-s", "HUP", "web"}, []string{"containers/web/ctl: kill HUP"}, "web\n", "", false},
		{"pause", []string{"pause", "web"}, []string{"containers/web/ctl: pause"}, "web\n", "", false},
		{"unpause", []string{"unpause", "web"}, []string{"containers/web/ctl: resume"}, "web\n", "", false},
		{"rm -f -v", []string{"rm", "-f", "-v", "web", "db"}, []string{"containers/web/ctl: rm force volumes", "containers/db/ctl: rm force volumes"},
			"web\ndb\n", "", false},
		{"rm of a running container", []string{"rm", "db", "web"}, []string{"containers/db/ctl: rm", "containers/web/ctl: rm"},
			"web\n", "Error response from daemon: container db is running: stop it first or use force\n", true},
		{"rm of nothing", []string{"rm", "nosuch"}, nil, "", "Error response from daemon: no file \"containers/nosuch\"\n", true},
		{"rm of a path", []string{"rm", "../images"}, nil, "", "Error response from daemon: invalid container name or id \"../images\"\n", true},
		{"rename", []string{"rename", "web", "site"}, []string{"containers/web/ctl: rename site"}, "", "", false},
		{"commit", []string{"commit", "-c", `CMD ["x"]`, "web", "img"}, []string{`containers/web/ctl: commit img change='CMD ["x"]'`},
			"sha256:c0ffee\n", "", false},
		{"commit with everything", []string{"commit", "-a", "me <me@example.com>", "-m", "a message", "-c", "ENV A=1", "-c", "EXPOSE 80",
			"-p=false", "web"}, []string{"containers/web/ctl: commit author='me <me@example.com>' comment='a message' change='ENV A=1' " +
			"change='EXPOSE 80' pause=false"}, "sha256:c0ffee\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := containerTree()
			f.ctl("containers/web/ctl", func(line string) (string, error) {
				if strings.HasPrefix(line, "commit") {
					return "sha256:c0ffee\n", nil
				}
				return "", nil
			})
			stdout, stderr, err := f.dctl(t, tc.args...)
			sameLines(t, strings.Join(tc.args, " "), f.recorded(), tc.lines)
			if stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("printed %q and %q, want %q and %q", stdout, stderr, tc.stdout, tc.stderr)
			}
			if (err != nil) != tc.fails {
				t.Errorf("error %v, want one: %v", err, tc.fails)
			}
		})
	}
}

// psList is containers/list: web running for an hour, db exited.
func psList(now time.Time) string {
	return fmt.Sprintf(`[
{"Id":"bbbb000000000000000000000000000000000000000000000000000000000002","Names":["/web"],"Image":"nginx:alpine",
 "Command":"nginx -g 'daemon off;'","Created":%d,"State":"running","Status":"Up About an hour",
 "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},{"PrivatePort":443,"Type":"tcp"}]},
{"Id":"aaaa000000000000000000000000000000000000000000000000000000000001","Names":["/db","/shop/db"],"Image":"postgres:16",
 "Command":"postgres","Created":%d,"State":"exited","Status":"Exited (3) 2 hours ago","Ports":[]}
]`, now.Add(-time.Hour).Unix(), now.Add(-3*time.Hour).Unix())
}

// TestPs: ps prints docker's columns from containers/list.
func TestPs(t *testing.T) {
	// The STATUS column is as wide as its widest cell plus 3.
	row := func(status int, id, image, command, created, st, ports, names string) string {
		return fmt.Sprintf("%-15s%-15s%-25s%-20s%-*s%-32s%s\n", id, image, command, created, status, st, ports, names)
	}
	header := func(status int) string {
		return row(status, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
	}
	web := func(status int) string {
		return row(status, "bbbb00000000", "nginx:alpine", `"nginx -g 'daemon of…"`, "About an hour ago", "Up About an hour",
			"0.0.0.0:8080->80/tcp, 443/tcp", "web")
	}
	db := row(25, "aaaa00000000", "postgres:16", `"postgres"`, "3 hours ago", "Exited (3) 2 hours ago", "", "db") // link names hidden, as docker ps without --no-trunc
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"running", []string{"ps"}, header(19) + web(19)},
		{"all", []string{"ps", "-a"}, header(25) + web(25) + db},
		{"quiet", []string{"ps", "-aq"}, "bbbb00000000\naaaa00000000\n"},
		{"no trunc", []string{"ps", "-q", "--no-trunc"}, "bbbb000000000000000000000000000000000000000000000000000000000002\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("containers/list", psList(time.Now()))
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" {
				t.Fatalf("%v: %s", err, stderr)
			}
			if stdout != tc.want {
				t.Errorf("printed\n%s\nwant\n%s", stdout, tc.want)
			}
		})
	}
}

// imageList is images/list: busybox with two tags, app:1 built on it
// (two untagged parents between), and a dangling image.
func imageList(now time.Time) string {
	created := now.Add(-2 * time.Hour).Unix()
	return fmt.Sprintf(`[
{"Id":"sha256:%[1]s","ParentId":"","RepoTags":["busybox:latest","127.0.0.1:5000/tools/bb:v1"],"RepoDigests":["busybox@sha256:feed"],
 "Created":%[6]d,"Size":4000000},
{"Id":"sha256:%[2]s","ParentId":"sha256:%[1]s","RepoTags":[],"Created":%[6]d,"Size":4000100},
{"Id":"sha256:%[3]s","ParentId":"sha256:%[2]s","RepoTags":[],"Created":%[6]d,"Size":4000200},
{"Id":"sha256:%[4]s","ParentId":"sha256:%[3]s","RepoTags":["app:1"],"Created":%[6]d,"Size":4000300},
{"Id":"sha256:%[5]s","ParentId":"","RepoTags":[],"Created":%[6]d,"Size":150}
]`, strings.Repeat("b", 64), strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("a", 64), strings.Repeat("d", 64), created)
}

// TestImages: images hides the intermediate images of builds without -a.
func TestImages(t *testing.T) {
	// The REPOSITORY and TAG columns are as wide as their widest cells
	// plus 3, and at least 10 as docker's: 26 and 10 with
	// 127.0.0.1:5000/tools/bb and <none>.
	type w struct{ repo, tag int }
	wide := w{26, 10}
	row := func(w w, repo, tag, id, size string) string {
		return fmt.Sprintf("%-*s%-*s%-15s%-14s%s\n", w.repo, repo, w.tag, tag, id, "2 hours ago", size)
	}
	header := func(w w) string {
		return fmt.Sprintf("%-*s%-*s%-15s%-14s%s\n", w.repo, "REPOSITORY", w.tag, "TAG", "IMAGE ID", "CREATED", "SIZE")
	}
	bb := row(wide, "busybox", "latest", "bbbbbbbbbbbb", "4MB") + row(wide, "127.0.0.1:5000/tools/bb", "v1", "bbbbbbbbbbbb", "4MB")
	app := row(wide, "app", "1", "aaaaaaaaaaaa", "4MB")
	dangling := row(wide, "<none>", "<none>", "dddddddddddd", "150B")
	steps := row(wide, "<none>", "<none>", "111111111111", "4MB") + row(wide, "<none>", "<none>", "222222222222", "4MB")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"default", []string{"images"}, header(wide) + bb + app + dangling},
		{"all", []string{"images", "-a"}, header(wide) + bb + steps + app + dangling},
		{"image ls", []string{"image", "ls"}, header(wide) + bb + app + dangling},
		{"a repository", []string{"images", "busybox"}, header(w{13, 10}) + row(w{13, 10}, "busybox", "latest", "bbbbbbbbbbbb", "4MB")},
		{"a tag", []string{"images", "127.0.0.1:5000/tools/bb:v1"},
			header(w{26, 10}) + row(w{26, 10}, "127.0.0.1:5000/tools/bb", "v1", "bbbbbbbbbbbb", "4MB")},
		{"quiet", []string{"images", "-q"}, "bbbbbbbbbbbb\naaaaaaaaaaaa\ndddddddddddd\n"},
		{"quiet all", []string{"images", "-qa"}, "bbbbbbbbbbbb\n111111111111\n222222222222\naaaaaaaaaaaa\ndddddddddddd\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("images/list", imageList(time.Now()))
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" {
				t.Fatalf("%v: %s", err, stderr)
			}
			if stdout != tc.want {
				t.Errorf("printed\n%s\nwant\n%s", stdout, tc.want)
			}
		})
	}
	t.Run("digests", func(t *testing.T) {
		f := newFakeTree()
		f.file("images/list", imageList(time.Now()))
		stdout, _, err := f.dctl(t, "images", "--digests", "busybox")
		want := fmt.Sprintf("%-13s%-10s%-14s%-15s%-14s%s\n", "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE") +
			fmt.Sprintf("%-13s%-10s%-14s%-15s%-14s%s\n", "busybox", "latest", "sha256:feed", "bbbbbbbbbbbb", "2 hours ago", "4MB")
		if err != nil || stdout != want {
			t.Errorf("printed\n%s\nwant\n%s(%v)", stdout, want, err)
		}
	})
}

// TestImageCommands: rmi, tag and pull are lines of images/ctl and of a
// pull job.
func TestImageCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		lines  []string
		stdout string
		fails  bool
	}{
		{"rmi -f", []string{"rmi", "-f", "busybox", "app:1"}, []string{"images/ctl: rm busybox force", "images/ctl: rm app:1 force"},
			"Untagged: busybox:latest\nDeleted: sha256:bb\n", false},
		{"image rm", []string{"image", "rm", "busybox"}, []string{"images/ctl: rm busybox"}, "Untagged: busybox:latest\nDeleted: sha256:bb\n", false},
		{"tag", []string{"tag", "busybox", "127.0.0.1:5000/bb:v2"}, []string{"images/ctl: tag busybox 127.0.0.1:5000/bb:v2"}, "", false},
		{"pull", []string{"pull", "--platform", "linux/arm64", "busybox"}, []string{"images/pulls/clone: pull busybox platform=linux/arm64"},
			"Using default tag: latest\nlatest: Pulling from library/busybox\ndocker.io/library/busybox:latest\n", false},
		{"pull -q of a tag", []string{"pull", "-q", "busybox:1.36"}, []string{"images/pulls/clone: pull busybox:1.36"},
			"docker.io/library/busybox:1.36\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("images/ctl", func(line string) (string, error) {
				if strings.HasPrefix(line, "rm busybox") {
					return "Untagged: busybox:latest\nDeleted: sha256:bb", nil
				}
				return "", nil
			})
			f.clone("images/pulls/clone", "1", nil)
			f.stream("images/pulls/1/progress", `{"status":"Pulling from library/busybox","id":"latest"}`+"\n")
			stdout, stderr, err := f.dctl(t, tc.args...)
			sameLines(t, strings.Join(tc.args, " "), f.recorded(), tc.lines)
			if stdout != tc.stdout || (err != nil) != tc.fails {
				t.Errorf("printed %q (%q), error %v; want %q", stdout, stderr, err, tc.stdout)
			}
		})
	}
}

// TestNetworkAndVolumeCommands: network and volume commands are lines of
// networks/ctl, volumes/ctl and their objects' ctl.
func TestNetworkAndVolumeCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		lines  []string
		stdout string
		fails  bool
	}{
		{"network create", []string{"network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.9.0.1", "app"},
			[]string{"networks/ctl: create app driver=bridge subnet=10.9.0.0/24 gateway=10.9.0.1"}, "n1\n", false},
		{"network create with everything", []string{"network", "create", "-d", "macvlan", "--subnet", "192.168.5.0/24", "--internal",
			"-o", "parent=eth0", "--label", "team=ops", "--label", "x=y", "lan"},
			[]string{"networks/ctl: create lan driver=macvlan subnet=192.168.5.0/24 internal=true opt=parent=eth0 label=team=ops label=x=y"}, "n1\n", false},
		{"network connect", []string{"network", "connect", "--ip", "10.9.0.7", "--alias", "www", "app", "web"},
			[]string{"networks/app/ctl: connect web ip=10.9.0.7 alias=www"}, "", false},
		{"network disconnect", []string{"network", "disconnect", "app", "web"}, []string{"networks/app/ctl: disconnect web"}, "", false},
		{"network rm", []string{"network", "rm", "app", "old"}, []string{"networks/ctl: rm app", "networks/ctl: rm old"}, "app\nold\n", false},
		{"network prune", []string{"network", "prune", "-f"}, []string{"networks/ctl: prune"}, "Deleted Networks:\nold\n", false},
		{"network connect to a path", []string{"network", "connect", "..", "web"}, nil, "", true},
		{"volume create", []string{"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "--label", "x=y", "data"},
			[]string{"volumes/ctl: create data driver=local opt=type=tmpfs opt=device=tmpfs label=x=y"}, "data\n", false},
		{"volume create without a name", []string{"volume", "create"}, []string{"volumes/ctl: create driver=local"}, "data\n", false},
		{"volume rm", []string{"volume", "rm", "data"}, []string{"volumes/ctl: rm data"}, "data\n", false},
		{"volume rm -f of nothing", []string{"volume", "rm", "-f", "nosuch", "data"}, []string{"volumes/ctl: rm nosuch", "volumes/ctl: rm data"}, "data\n", false},
		{"volume rm of nothing", []string{"volume", "rm", "nosuch"}, []string{"volumes/ctl: rm nosuch"}, "", true},
		{"volume prune", []string{"volume", "prune", "-f"}, []string{"volumes/ctl: prune"}, "Deleted Volumes:\nold\n", false},
		{"volume prune -a", []string{"volume", "prune", "-a"}, []string{"volumes/ctl: prune all"}, "old\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("networks/ctl", func(line string) (string, error) {
				switch {
				case strings.HasPrefix(line, "create"):
					return "n1", nil
				case line == "prune":
					return "old", nil
				}
				return "", nil
			})
			f.ctl("networks/app/ctl", nil)
			f.ctl("volumes/ctl", func(line string) (string, error) {
				switch {
				case strings.HasPrefix(line, "create"):
					return "data", nil
				case strings.HasPrefix(line, "prune"):
					return "old", nil
				case line == "rm nosuch":
					return "", errdefs.NotFound("no such volume: nosuch")
				}
				return "", nil
			})
			stdout, stderr, err := f.dctl(t, tc.args...)
			sameLines(t, strings.Join(tc.args, " "), f.recorded(), tc.lines)
			if stdout != tc.stdout || (err != nil) != tc.fails {
				t.Errorf("printed %q (%q), error %v; want %q", stdout, stderr, err, tc.stdout)
			}
		})
	}
}

// TestLists: network ls, volume ls, inspect and logs print what the tree
// has.
func TestLists(t *testing.T) {
	f := newFakeTree()
	f.file("networks/list", `[{"Name":"bridge","Id":"b000000000000000","Driver":"bridge","Scope":"local"},`+
		`{"Name":"app","Id":"a000000000000000","Driver":"macvlan","Scope":"local"}]`)
	f.file("volumes/list", `[{"Name":"data","Driver":"local"},{"Name":"0123456789abcdef","Driver":"local"}]`)
	f.file("containers/web/inspect", `{"Id":"c1","Name":"/web"}`)
	f.optsFile("containers/web/logs", "\x01\x00\x00\x00\x00\x00\x00\x08one\ntwo\n")
	f.file("networks/app/config", `{"Name":"app"}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"network ls", []string{"network", "ls"}, "NETWORK ID     NAME     DRIVER    SCOPE\n" +
			"b00000000000   bridge   bridge    local\na00000000000   app      macvlan   local\n"},
		{"network ls -q", []string{"network", "ls", "-q"}, "b00000000000\na00000000000\n"},
		{"volume ls", []string{"volume", "ls"}, "DRIVER   VOLUME NAME\nlocal    data\nlocal    0123456789abcdef\n"},
		{"inspect", []string{"inspect", "web"}, "[\n    {\n        \"Id\": \"c1\",\n        \"Name\": \"/web\"\n    }\n]\n"},
		{"network inspect", []string{"network", "inspect", "app"}, "[\n    {\n        \"Name\": \"app\"\n    }\n]\n"},
		{"logs", []string{"logs", "web"}, "one\ntwo\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := f.dctl(t, tc.args...)
			if err != nil || stderr != "" || stdout != tc.want {
				t.Errorf("printed\n%s(%q, %v)\nwant\n%s", stdout, stderr, err, tc.want)
			}
		})
	}
	for _, args := range [][]string{{"inspect", "nosuch"}, {"logs", "nosuch"}, {"network", "inspect", "nosuch"}} {
		if _, _, err := f.dctl(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
