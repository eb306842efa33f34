package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestJSONDocFields: every field explain and state write in JSON is in
// docs/json.md's table for its schema, and every field there is written by
// one of these runs, GICv4.0 and several-ITS ones among them (the
// register of a table that is not valid, and the error of a VPT outside
// guest memory, excepted: no scenario leaves one). The fields under each
// element of itses are documented as the top-level fields they repeat.
func TestJSONDocFields(t *testing.T) {
	orphan := filepath.Join(t.TempDir(), "orphan.its")
	// ICID 2 is named by an ITE but never mapped: its cpu is null.
	if err := os.WriteFile(orphan, []byte("cpus 1\nenablelpis all\nmapc icid=1 cpu=0\nmapd dev=0x10 bits=2\nmapti dev=0x10 ev=0 lpi=8192 icid=1\nmapti dev=0x10 ev=1 lpi=8193 icid=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	documented := jsonDocFields(t)
	runs := map[string][][]string{
		"gicits-explain": {
			{"explain", "-format", "json", "-script", routeScenario, "dev=0x10", "ev=1"},
			{"explain", "-format", "json", "-script", routeScenario, "dev=0x11", "ev=0"},
			{"explain", "-format", "json", "-script", v4Scenario, "dev=0x10", "ev=1"},
			{"explain", "-format", "json", "-its", "1", "-script", itsesScenario, "dev=0x10", "ev=0"},
		},
		"gicits-state": {
			{"state", "-format", "json", "-script", routeScenario},
			{"state", "-format", "json", "-script", orphan},
			{"state", "-format", "json", "-script", v4Scenario},
			{"state", "-format", "json", "-script", "../../docs/tutorial/v41-direct.its"},
			{"state", "-format", "json", "-script", itsesScenario},
			{"state", "-format", "json", "-script", "../../testdata/conformance/v4-itses-vmovp.its"},
		},
	}
	rare := []string{"its.device_table.baser", "its.collection_table.baser", "its.vpe_table.baser", "vpes[].vpt_error"}
	for schema, cmds := range runs {
		written := map[string]bool{}
		for _, args := range cmds {
			status, stdout, stderr := runArgs(t, args...)
			var doc map[string]any
			if err := json.Unmarshal([]byte(stdout), &doc); status != 0 || err != nil || doc["schema"] != schema || doc["version"] != 1.0 {
				t.Fatalf("itsbench %s: status %d, %v, stderr %q; want a %s document, version 1:\n%s", strings.Join(args, " "), status, err, stderr, schema, stdout)
			}
			jsonPaths(doc, "", written)
		}
		for p := range written {
			if !documented[schema][p] && !documentedPerITS(documented[schema], p) {
				t.Errorf("%s writes %s, which docs/json.md does not document", schema, p)
			}
		}
		for p := range documented[schema] {
			if !written[p] && !slices.Contains(rare, p) {
				t.Errorf("docs/json.md documents %s in %s, which no run wrote", p, schema)
			}
		}
	}
}

// perITSFields are the fields of gicits-state that each element of
// itses has too, documented once at the top (docs/json.md says so).
var perITSFields = []string{"its", "collections", "devices", "vpes"}

// documentedPerITS reports whether p is a field under one of an itses
// element's perITSFields, documented as that field at the top.
func documentedPerITS(documented map[string]bool, p string) bool {
	rest, ok := strings.CutPrefix(p, "itses[].")
	top, _, _ := strings.Cut(strings.SplitN(rest, ".", 2)[0], "[")
	return ok && slices.Contains(perITSFields, top) && documented[rest]
}

// jsonDocFields reads the field paths of docs/json.md's tables, by schema
// (its "## gicits-..." section).
func jsonDocFields(t *testing.T) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]map[string]bool{}
	schema := ""
	name := regexp.MustCompile("`([^`]+)`")
	for line := range strings.SplitSeq(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "## "); ok {
			schema = s
			fields[schema] = map[string]bool{}
			continue
		}
		cols := strings.Split(line, "|")
		if schema == "" || len(cols) < 3 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "`") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cols[1], -1) {
			fields[schema][m[1]] = true
		}
	}
	return fields
}

// jsonPaths adds the path of every field under v to paths: "a.b" for
// field b of object a, "a[]" for the elements of array a.
func jsonPaths(v any, path string, paths map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			paths[p] = true
			jsonPaths(e, p, paths)
		}
	case []any:
		for _, e := range v {
			jsonPaths(e, path+"[]", paths)
		}
	}
}
