package verbs

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docEntries reads the file list of docs/tree.md ("## Every file"): each
// entry's text by its path (the first word of a line that starts with
// "/"; the lines indented under it follow).
func docEntries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/tree.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Every file")
	_, block, ok2 := strings.Cut(rest, "```text\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/tree.md has no text block under ## Every file")
	}
	entries := map[string]string{}
	path := ""
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "/") {
			path, line, _ = strings.Cut(line, " ")
		}
		entries[path] += " " + strings.TrimSpace(line)
	}
	return entries
}

// TestDocCreate: the create line of containers/ctl in docs/tree.md names
// Create's keys, no others, each optional or required and repeatable or
// not as Create's are, and the command line after "--".
func TestDocCreate(t *testing.T) {
	text, ok := docEntries(t)["/containers/ctl"]
	if !ok {
		t.Fatal("docs/tree.md has no /containers/ctl")
	}
	// The words at bracket depth 0, up to the parenthesised note.
	var words []string
	depth, start := 0, -1
	for i, r := range text + " " {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case r == '(' && depth == 0 && start < 0:
			text = text[:i]
		}
		if i >= len(text) {
			break
		}
		switch {
		case r == ' ' && depth == 0 && start >= 0:
			words = append(words, text[start:i])
			start = -1
		case r != ' ' && start < 0:
			start = i
		}
	}
	if start >= 0 {
		words = append(words, text[start:])
	}
	if len(words) == 0 || words[0] != "create" {
		t.Fatalf("docs/tree.md's /containers/ctl: %q does not start with create", words)
	}
	type key struct{ optional, repeated bool }
	doc := map[string]key{}
	argv := false
	for _, w := range words[1:] {
		var k key
		w, k.repeated = strings.CutSuffix(w, "...")
		if strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]") {
			w, k.optional = w[1:len(w)-1], true
		}
		if strings.HasPrefix(w, "-- ") {
			argv = true
			continue
		}
		name, _, ok := strings.Cut(w, "=")
		if !ok {
			t.Errorf("docs/tree.md's create: %q is not key=VALUE", w)
			continue
		}
		doc[name] = key{k.optional, k.repeated}
	}
	s := specOf(typeOf(Create{}))
	for _, f := range s.fields {
		if f.kind == kindArgv {
			if !argv {
				t.Error("docs/tree.md's create has no [-- CMD ARG...]")
			}
			continue
		}
		k, ok := doc[f.name]
		switch {
		case !ok:
			t.Errorf("docs/tree.md's create has no %s= (usage: %s)", f.name, Usage(Create{}))
		case k.optional == f.required || k.repeated != f.slice:
			t.Errorf("docs/tree.md's create: %s= is optional %v, repeated %v; want %v, %v", f.name, k.optional, k.repeated, !f.required, f.slice)
		}
		delete(doc, f.name)
	}
	for name := range doc {
		t.Errorf("docs/tree.md's create has %s=, which create does not take", name)
	}
}

// TestDocVerbs: every verb and key of the tree's ctl files is in the
// entry of docs/tree.md for that file.
func TestDocVerbs(t *testing.T) {
	entries := docEntries(t)
	for _, tc := range []struct {
		path string
		g    Grammar
	}{
		{"/containers/ctl", Containers},
		{"/containers/<id|name>/", Grammar{ContainerStart{}, ContainerStop{}, ContainerRestart{}, ContainerKill{}, ContainerPause{},
			ContainerResume{}, ContainerResize{}, ContainerRm{}, ContainerRename{}, ContainerCommit{}, ContainerUpdate{}, Logs{}}},
		{"/containers/<id>/exec/", Exec},
		{"/images/ctl", Images},
		{"/images/<repo", Image},
		{"/images/save", Archive},
		{"/images/pulls/clone", Grammar{ImagePull{}}},
		{"/images/pulls/<n>/", Transfer},
		{"/images/pushes/", Grammar{ImagePush{}}},
		{"/builds/ctl", Builds},
		{"/builds/<n>/", BuildJob},
		{"/networks/ctl", Networks},
		{"/networks/<name|id>/", Network},
		{"/volumes/ctl", Volumes},
		{"/volumes/<name>/", Volume},
	} {
		text, ok := entries[tc.path]
		if !ok {
			t.Errorf("docs/tree.md has no %s", tc.path)
			continue
		}
		has := func(w string) bool { return regexp.MustCompile(`(^|[^a-z-])` + regexp.QuoteMeta(w)).MatchString(text) }
		for _, v := range tc.g {
			s := specOf(typeOf(v))
			if !regexp.MustCompile(`(^|[^a-z-])` + s.verb.Name + `($|[^a-z-])`).MatchString(text) {
				t.Errorf("docs/tree.md's %s does not name %q (usage: %s)", tc.path, s.verb.Name, s.verb.Usage)
			}
			for _, f := range s.fields {
				switch {
				case f.word != "" || f.kind == kindWord:
					w := f.word + f.name
					if f.kind == kindOpt {
						w = f.word
					}
					if !has("[" + w + "]") {
						t.Errorf("docs/tree.md's %s: %s has no [%s] (usage: %s)", tc.path, s.verb.Name, w, s.verb.Usage)
					}
				case f.kind == kindOpt && !has(f.name+"="):
					t.Errorf("docs/tree.md's %s: %s has no %s= (usage: %s)", tc.path, s.verb.Name, f.name, s.verb.Usage)
				}
			}
		}
	}
	if !slices.Contains(Spec(Create{}).Keys, "image") {
		t.Fatal("create has no image=")
	}
}
