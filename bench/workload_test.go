package bench

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gicits/gicits/model"
)

func TestBuiltinsValid(t *testing.T) {
	for _, w := range Builtins() {
		if err := w.Validate(); err != nil {
			t.Errorf("%s: %v", w.Name, err)
		}
	}
	if Builtins()[0].Name != DefaultWorkload {
		t.Errorf("first built-in is %q, want %q", Builtins()[0].Name, DefaultWorkload)
	}
}

func TestLookup(t *testing.T) {
	w, err := Lookup("lpistress")
	if err != nil || w.CPUs != 1 || w.Devices != 1 || w.Events != 16 || w.Iterations != 1000 || w.injectors() != 1 {
		t.Fatalf("lpistress = %+v, %v (want the selftest's defaults -v 1 -d 1 -e 16 -i 1000)", w, err)
	}
	_, err = Lookup("nope")
	if !errors.Is(err, ErrUnknownWorkload) || !strings.Contains(err.Error(), "steady") || !strings.Contains(err.Error(), "lpistress") {
		t.Errorf("Lookup(nope) = %v, want a list of known workloads", err)
	}
}

func TestValidateNamesParameter(t *testing.T) {
	base, _ := Lookup("steady")
	for _, tc := range []struct {
		change func(*Workload)
		param  string
	}{
		{func(w *Workload) { w.CPUs = 0 }, "cpus"},
		{func(w *Workload) { w.CPUs = 33 }, "cpus"},
		{func(w *Workload) { w.Devices = 1000; w.Events = 100 }, "devices×events"},
		{func(w *Workload) { w.Path = PathIRQFD; w.Devices = 100; w.Events = 100 }, "devices×events"},
		{func(w *Workload) { w.Pattern = Zipf; w.ZipfS = 1 }, "zipf"},
		{func(w *Workload) { w.Pattern = Bursts }, "burst"},
		{func(w *Workload) { w.Churn = ChurnMOVI }, "churn-rate"},
		{func(w *Workload) { w.Duration = time.Second }, "count/iterations/duration"},
		{func(w *Workload) { w.LatencyEvery = 0 }, "latency-every"},
	} {
		w := base
		tc.change(&w)
		err := w.Validate()
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("want a ParamError for %s, got %v", tc.param, err)
		}
	}
}

func TestParams(t *testing.T) {
	w, _ := Lookup("lpistress")
	byName := map[string]Param{}
	for _, p := range Params() {
		byName[p.Name] = p
		for _, a := range p.Aliases {
			byName[a] = p
		}
	}
	for name, v := range map[string]string{"v": "4", "d": "2", "e": "8", "i": "10", "mapping": "random", "pattern": "zipf", "zipf": "1.5", "priorities": "0x80,0xa0", "path": "gsi", "wait": "park", "churn": "movi", "churn-rate": "100", "seed": "9"} {
		if err := byName[name].Set(&w, v); err != nil {
			t.Fatalf("Set(%s, %s): %v", name, v, err)
		}
	}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if w.CPUs != 4 || w.Devices != 2 || w.Events != 8 || w.InjectionsPerInjector() != 80 || byName["priorities"].Get(&w) != "0x80,0xa0" || w.Pattern != Zipf {
		t.Errorf("after Set: %+v", w)
	}
	if err := byName["duration"].Set(&w, "1s"); err != nil || w.Iterations != 0 || w.Validate() != nil {
		t.Errorf("duration clears iterations: %+v %v", w, err)
	}
	err := byName["pattern"].Set(&w, "zigzag")
	if err == nil || !strings.Contains(err.Error(), "sequential, uniform, zipf, bursts") {
		t.Errorf("bad pattern: %v", err)
	}
}

// Configure applies settings in order and says which of its three kinds of
// error it met, in their order of precedence.
func TestConfigure(t *testing.T) {
	base, _ := Lookup("steady")
	byName := map[string]Param{}
	for _, p := range Params() {
		byName[p.Name] = p
	}
	set := func(kv ...string) []Setting {
		var s []Setting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, Setting{Param: byName[kv[i]], Value: kv[i+1]})
		}
		return s
	}
	w, err := base.Configure(set("cpus", "4", "duration", "1s"))
	if err != nil || w.CPUs != 4 || w.Duration != time.Second || w.Count != 0 {
		t.Errorf("Configure(cpus 4, duration 1s) = %+v, %v", w, err)
	}
	var pe *ParamError
	if _, err := base.Configure(set("count", "1", "duration", "1s", "cpus", "x")); !errors.As(err, &pe) || err.Error() != `cpus "x": want a non-negative integer` {
		t.Errorf("a value that does not parse: %v", err)
	}
	if _, err := base.Configure(set("count", "1", "duration", "1s", "cpus", "0")); !errors.Is(err, ErrSeveralLengths) {
		t.Errorf("count and duration: %v", err)
	}
	var invalid *InvalidWorkloadError
	_, err = base.Configure(set("cpus", "64", "events", "0"))
	if !errors.As(err, &invalid) || err.Error() != "workload steady: cpus 64: want 1..32; events 0: want 1..65536" || !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("out of range: %v", err)
	}
}

// TestWorkloadJSONRoundTrip: a workload read back from a report's JSON is
// the workload that was written, every enum included (itsbench compare
// reads the kvm side's result from its guest that way).
func TestWorkloadJSONRoundTrip(t *testing.T) {
	for _, name := range BuiltinNames() {
		w, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Mapping, w.Pattern, w.Path, w.Churn, w.Wait = RandomMapping, Zipf, PathIRQFD, ChurnMOVI, WaitPark
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var back Workload
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(back, w) {
			t.Errorf("%s: read back %+v, wrote %+v", name, back, w)
		}
	}
	var m Mapping
	if err := json.Unmarshal([]byte(`"sideways"`), &m); err == nil {
		t.Error(`a mapping "sideways" was accepted`)
	}
}

// TestDescribeCounts: one of a thing is singular.
func TestDescribeCounts(t *testing.T) {
	w, err := Lookup("steady")
	if err != nil {
		t.Fatal(err)
	}
	w.CPUs, w.Devices, w.Events = 1, 1, 1
	if d := w.Describe(); !strings.HasPrefix(d, "1 CPU, 1 device × 1 event, ") {
		t.Errorf("Describe() = %q, want it to start %q", d, "1 CPU, 1 device × 1 event, ")
	}
	w.CPUs, w.Devices, w.Events = 2, 4, 16
	if d := w.Describe(); !strings.HasPrefix(d, "2 CPUs, 4 devices × 16 events, ") {
		t.Errorf("Describe() = %q", d)
	}
}
