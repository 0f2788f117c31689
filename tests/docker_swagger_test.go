//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	yaml "go.yaml.in/yaml/v4"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// The Docker API's own description of API 1.50: the swagger file of the
// module whose types the bridge uses.
const dockerModule = "github.com/docker/docker@v28.2.2+incompatible"

var swagger struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// dockerSpec loads api/swagger.yaml from the module cache and converts it
// to OpenAPI 3 with its references resolved (kin-openapi), once.
func dockerSpec(t *testing.T) *openapi3.T {
	t.Helper()
	swagger.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			swagger.err = err
			return
		}
		data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), dockerModule, "api", "swagger.yaml"))
		if err != nil {
			swagger.err = err
			return
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			swagger.err = err
			return
		}
		js, err := json.Marshal(stringKeys(doc))
		if err != nil {
			swagger.err = err
			return
		}
		var doc2 openapi2.T
		if err := json.Unmarshal(js, &doc2); err != nil {
			swagger.err = err
			return
		}
		doc3, err := openapi2conv.ToV3(&doc2)
		if err == nil {
			err = openapi3.NewLoader().ResolveRefsIn(doc3, nil)
		}
		swagger.doc, swagger.err = doc3, err
	})
	if swagger.err != nil {
		t.Fatalf("loading the Docker API's swagger.yaml: %v", swagger.err)
	}
	return swagger.doc
}

// checkSchema validates a JSON response body against the schema the spec
// gives the operation (path template, method) for status.
func checkSchema(t *testing.T, method, path string, status int, body []byte) {
	t.Helper()
	if err := schemaError(t, method, path, status, body); err != nil {
		t.Errorf("%s %s: the response does not match the API's schema: %v\n%s", method, path, err, body)
	}
}

// schemaError is the error of checkSchema, nil if the body matches.
func schemaError(t *testing.T, method, path string, status int, body []byte) error {
	t.Helper()
	doc := dockerSpec(t)
	item := doc.Paths.Value(path)
	if item == nil {
		t.Fatalf("swagger has no path %s", path)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("swagger has no %s %s", method, path)
	}
	resp := op.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		t.Fatalf("swagger has no %d response for %s %s", status, method, path)
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		t.Fatalf("swagger has no JSON schema for %s %s %d", method, path, status)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s %s: the body is not JSON: %v\n%s", method, path, err, body)
	}
	v = numbersAsFloats(dropNulls(v))
	return mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors())
}

// stringKeys gives YAML mappings string keys, as JSON has (the spec's
// status codes are numbers in YAML).
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
	}
	return v
}

// dropNulls removes the members whose value is null: the spec marks few
// fields nullable, yet dockerd itself answers null for empty lists and maps
// (Config.Entrypoint, HostConfig.Devices, ...). A null is checked as an
// absent member, so a required one that is null still fails.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
			} else {
				x[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	}
	return v
}

// numbersAsFloats turns json.Number into the float64 kin-openapi checks.
func numbersAsFloats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbersAsFloats(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbersAsFloats(e)
		}
	}
	return v
}

// TestDockerSchemas checks the JSON the bridge answers for the main
// endpoints against the Docker API's swagger description.
func TestDockerSchemas(t *testing.T) {
	d := startDockerd(t)
	// The checker fails what the spec forbids.
	for _, bad := range []string{`{"StatusCode": "zero"}`, `{"Error": {"Message": "x"}}`} {
		if schemaError(t, "POST", "/containers/{id}/wait", 200, []byte(bad)) == nil {
			t.Errorf("the schema checker accepts %s as a wait response", bad)
		}
	}
	get := func(path string) []byte {
		t.Helper()
		status, body := d.call("GET", "/v1.50"+path, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return body
	}
	status, body := d.call("POST", "/v1.50/containers/create?name=sw", `{"Image": "busybox", "Cmd": ["sh", "-c", "echo hi; sleep 300"], "Labels": {"a": "b"}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	checkSchema(t, "POST", "/containers/create", 201, body)
	var created struct{ Id string }
	json.Unmarshal(body, &created)
	defer d.docker("rm", "-f", "sw")
	checkSchema(t, "GET", "/containers/{id}/json", 200, get("/containers/sw/json"))
	d.mustDocker("start", "sw")
	status, body = d.call("POST", "/v1.50/containers/sw/exec", `{"Cmd": ["true"], "AttachStdout": true}`)
	if status != 201 {
		t.Fatalf("exec create: %d %s", status, body)
	}
	checkSchema(t, "POST", "/containers/{id}/exec", 201, body)
	var ex struct{ Id string }
	json.Unmarshal(body, &ex)
	if status, body := d.call("POST", "/v1.50/exec/"+ex.Id+"/start", `{"Detach": true}`); status != 200 {
		t.Fatalf("exec start: %d %s", status, body)
	}
	for _, c := range []struct{ template, path string }{
		{"/version", "/version"},
		{"/info", "/info"},
		{"/containers/json", "/containers/json?all=1"},
		{"/containers/{id}/json", "/containers/sw/json"},
		{"/containers/{id}/top", "/containers/sw/top"},
		{"/containers/{id}/stats", "/containers/sw/stats?stream=false&one-shot=true"},
		{"/exec/{id}/json", "/exec/" + ex.Id + "/json"},
		{"/images/json", "/images/json"},
		{"/images/{name}/json", "/images/busybox/json"},
		{"/system/df", "/system/df"},
	} {
		t.Run(c.template, func(t *testing.T) {
			checkSchema(t, "GET", c.template, 200, get(c.path))
		})
	}
	d.mustDocker("kill", "sw")
	status, body = d.call("POST", "/v1.50/containers/sw/wait", "")
	if status != 200 {
		t.Fatalf("wait: %d %s", status, body)
	}
	checkSchema(t, "POST", "/containers/{id}/wait", 200, body)
	for _, line := range strings.Split(strings.TrimSpace(string(get("/events?since=0&until="+strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)+"&filters=%7B%22type%22%3A%5B%22container%22%5D%7D"))), "\n") {
		checkSchema(t, "GET", "/events", 200, []byte(line))
	}
	status, body = d.call("GET", "/v1.50/containers/nope/json", "")
	checkSchema(t, "GET", "/containers/{id}/json", status, body)
}

// TestDockerSchemasImagesNetworksVolumes checks the JSON of the image,
// network and volume endpoints (the progress lines of a pull or push are
// not in the spec; their list, inspect and create answers are).
func TestDockerSchemasImagesNetworksVolumes(t *testing.T) {
	d := startDockerd(t)
	call := func(method, template, path, body string, want int) []byte {
		t.Helper()
		status, out := d.call(method, "/v1.50"+path, body)
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
		}
		t.Run(method+" "+template, func(t *testing.T) { checkSchema(t, method, template, status, out) })
		return out
	}
	subnet := netdrvtest.FreeSubnet(t, 24)
	out := call("POST", "/networks/create", "/networks/create", `{"Name": "sw", "Driver": "bridge", "Labels": {"a": "b"},
		"IPAM": {"Config": [{"Subnet": "`+subnet.String()+`"}]}, "CheckDuplicate": true}`, 201)
	var created struct{ Id string }
	json.Unmarshal(out, &created)
	defer d.docker("network", "rm", "sw")
	call("POST", "/volumes/create", "/volumes/create", `{"Name": "swv", "Labels": {"a": "b"}}`, 201)
	defer d.docker("volume", "rm", "swv")
	call("POST", "/containers/create", "/containers/create?name=swc", `{"Image": "busybox", "Cmd": ["sleep", "300"],
		"ExposedPorts": {"80/tcp": {}}, "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]},
		"Binds": ["swv:/data"], "NetworkMode": "sw"}, "NetworkingConfig": {"EndpointsConfig": {"sw": {"Aliases": ["x"]}}}}`, 201)
	defer d.docker("rm", "-f", "swc")
	d.mustDocker("start", "swc")
	call("GET", "/containers/json", "/containers/json", "", 200)
	call("GET", "/containers/{id}/json", "/containers/swc/json", "", 200)
	call("GET", "/networks", "/networks", "", 200)
	call("GET", "/networks", `/networks?filters={"label":["a=b"]}`, "", 200)
	call("GET", "/networks/{id}", "/networks/"+created.Id, "", 200)
	call("GET", "/volumes", "/volumes", "", 200)
	call("GET", "/volumes/{name}", "/volumes/swv", "", 200)
	call("GET", "/images/{name}/history", "/images/busybox/history", "", 200)
	call("GET", "/system/df", "/system/df", "", 200)
	d.mustDocker("tag", "busybox", "sw/img:1")
	call("DELETE", "/images/{name}", "/images/sw/img:1", "", 200)
	call("POST", "/images/prune", "/images/prune", "", 200)
	d.mustDocker("rm", "-f", "swc")
	call("POST", "/networks/prune", "/networks/prune", "", 200)
	call("POST", "/volumes/prune", `/volumes/prune?filters={"all":["true"]}`, "", 200)
	call("GET", "/networks/{id}", "/networks/sw", "", 404)
	call("GET", "/volumes/{name}", "/volumes/swv", "", 404)
	call("POST", "/networks/create", "/networks/create", `{"Name": "bad", "EnableIPv6": true}`, 400)
}
