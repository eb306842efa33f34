package bench

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gicits/gicits/model"
)

// Mapping is how a workload's events are spread over collections. There is
// one collection per CPU: collection n is mapped to CPU n (MAPC icid=n
// rdbase=n).
type Mapping int

const (
	// RoundRobin: event k (counting across devices) goes to collection
	// k mod CPUs, as vgic_lpi_stress maps them.
	RoundRobin Mapping = iota
	// AllToOne: every event goes to collection 0 (CPU 0).
	AllToOne
	// RandomMapping: each event goes to a collection drawn uniformly from
	// the workload's seed.
	RandomMapping
)

// Pattern is the order in which an injector picks events.
type Pattern int

const (
	// Sequential: the injector's events in order, over and over.
	Sequential Pattern = iota
	// Uniform: events drawn uniformly at random.
	Uniform
	// Zipf: events drawn from a Zipf distribution of exponent ZipfS: a few
	// hot events take most injections.
	Zipf
	// Bursts: an event drawn uniformly, injected BurstLen times back to
	// back (a device firing again before its interrupt is handled: the
	// injections coalesce).
	Bursts
)

// Path is how an injection reaches the ITS.
type Path int

const (
	// SignalMSI: Backend.SignalMSI (KVM_SIGNAL_MSI). The result says
	// whether the MSI was delivered or blocked.
	PathSignalMSI Path = iota
	// PathGSI: a GSI routing table with one MSI route per event, and
	// Backend.TriggerGSI. Delivered and blocked are not observable.
	PathGSI
	// PathIRQFD: the same routes, each bound to a Trigger
	// (KVM_IRQFD on an eventfd). Delivery may complete after Signal
	// returns; delivered and blocked are not observable.
	PathIRQFD
)

// Churn is the re-mapping a churn goroutine performs while injectors run.
type Churn int

const (
	ChurnNone Churn = iota
	// ChurnMOVI: MOVI a random event to the next collection.
	ChurnMOVI
	// ChurnRemap: DISCARD a random event and MAPTI it again (same LPI and
	// collection): its pending state is dropped, by design.
	ChurnRemap
	// ChurnMAPD: unmap a random device (MAPD V=0), map it again with the
	// same ITT and MAPTI all its events: their pending state is dropped.
	ChurnMAPD
)

// WaitMode is how the consumer goroutine of each CPU waits for an LPI.
type WaitMode int

const (
	// WaitNone: no consumers. Nothing acknowledges during the run; every
	// CPU is drained after it (and end-to-end latency is not measured).
	WaitNone WaitMode = iota
	// WaitSpin: consumers call Acknowledge in a loop, as a CPU spinning
	// on its pending state (yielding the processor every 64 empty polls so
	// an oversubscribed machine still makes progress).
	WaitSpin
	// WaitPark: consumers poll Acknowledge and sleep between empty polls,
	// backing off from 10 µs to 200 µs (the routing API has no notification
	// to block on).
	WaitPark
)

type enum[T ~int] struct {
	what  string
	names []string
}

func (e enum[T]) str(v T) string {
	if int(v) >= 0 && int(v) < len(e.names) {
		return e.names[v]
	}
	return fmt.Sprintf("%s(%d)", e.what, int(v))
}

func (e enum[T]) parse(s string) (T, error) {
	if i := slices.Index(e.names, strings.ToLower(s)); i >= 0 {
		return T(i), nil
	}
	return 0, fmt.Errorf("unknown %s %q (accepted: %s)", e.what, s, strings.Join(e.names, ", "))
}

var (
	mappings  = enum[Mapping]{"mapping", []string{"roundrobin", "one", "random"}}
	patterns  = enum[Pattern]{"pattern", []string{"sequential", "uniform", "zipf", "bursts"}}
	paths     = enum[Path]{"path", []string{"msi", "gsi", "irqfd"}}
	churns    = enum[Churn]{"churn", []string{"none", "movi", "remap", "mapd"}}
	waitModes = enum[WaitMode]{"wait mode", []string{"none", "spin", "park"}}
)

func (m Mapping) String() string  { return mappings.str(m) }
func (p Pattern) String() string  { return patterns.str(p) }
func (p Path) String() string     { return paths.str(p) }
func (c Churn) String() string    { return churns.str(c) }
func (w WaitMode) String() string { return waitModes.str(w) }

// MarshalText makes the enums readable in JSON reports.
func (m Mapping) MarshalText() ([]byte, error)  { return []byte(m.String()), nil }
func (p Pattern) MarshalText() ([]byte, error)  { return []byte(p.String()), nil }
func (p Path) MarshalText() ([]byte, error)     { return []byte(p.String()), nil }
func (c Churn) MarshalText() ([]byte, error)    { return []byte(c.String()), nil }
func (w WaitMode) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads what MarshalText wrote, so a report's JSON reads back
// into a Result (itsbench compare reads the kvm side's from its guest).
func (m *Mapping) UnmarshalText(b []byte) (err error)  { *m, err = mappings.parse(string(b)); return }
func (p *Pattern) UnmarshalText(b []byte) (err error)  { *p, err = patterns.parse(string(b)); return }
func (p *Path) UnmarshalText(b []byte) (err error)     { *p, err = paths.parse(string(b)); return }
func (c *Churn) UnmarshalText(b []byte) (err error)    { *c, err = churns.parse(string(b)); return }
func (w *WaitMode) UnmarshalText(b []byte) (err error) { *w, err = waitModes.parse(string(b)); return }

// Workload describes an injection benchmark. It is a plain value: copy it,
// change fields, and [Workload.Validate] it (Run does).
//
// Devices are DeviceIDs 0..Devices-1, each with EventIDs 0..Events-1 and an
// ITT sized for them; LPIs are allocated from 8192 up in device-then-event
// order; collection n targets CPU n.
type Workload struct {
	// Name identifies the workload in reports.
	Name string `json:"name"`
	// Description says in one line what it models. It gives no figure:
	// the parameters can change every one ([Workload.Describe] gives
	// them).
	Description string `json:"description,omitempty"`

	CPUs    int `json:"cpus"`    // CPUs (redistributors) and collections
	Devices int `json:"devices"` // devices
	Events  int `json:"events"`  // events (MSI vectors) per device

	Mapping Mapping `json:"mapping"`
	// Priorities are the LPI priorities, assigned to LPIs in turn
	// (bits 7:2 count; lower is more urgent). Empty means 0xa0.
	Priorities []uint8 `json:"priorities"`

	Pattern  Pattern `json:"pattern"`
	ZipfS    float64 `json:"zipf_s,omitempty"`    // Zipf exponent, > 1
	BurstLen int     `json:"burst_len,omitempty"` // Bursts: injections per burst
	Path     Path    `json:"path"`

	// Injectors is the number of injecting goroutines, each drawing from
	// every event. 0 means one per device, each injecting only its own
	// device's events (vgic_lpi_stress's threads).
	Injectors int `json:"injectors"`

	Churn     Churn   `json:"churn"`
	ChurnRate float64 `json:"churn_rate,omitempty"` // churn operations per second

	// How long to inject, per injector: exactly one of Count
	// (injections), Iterations (passes over the injector's events) and
	// Duration is set.
	Count      int           `json:"count,omitempty"`
	Iterations int           `json:"iterations,omitempty"`
	Duration   time.Duration `json:"duration,omitempty"`
	// Warmup injections per injector run before the measured phase and
	// are not measured.
	Warmup int `json:"warmup"`
	// Seed seeds every random choice (mapping, pattern, churn).
	Seed uint64 `json:"seed"`

	// Wait is how the consumer of each CPU waits; WaitNone runs no
	// consumers and measures no end-to-end latency.
	Wait WaitMode `json:"wait"`
	// LatencyEvery times one injection call in LatencyEvery (1: every
	// call). Reading the clock costs tens of nanoseconds, a large share
	// of a fast injection; throughput-oriented workloads sample. With
	// consumers every injection is stamped for end-to-end latency anyway.
	LatencyEvery int `json:"latency_every"`
}

// Limits of workloads on the default layout.
const (
	MaxCPUs    = 32
	MaxDevices = 1 << 16
	MaxEvents  = 1 << 16
	// MaxLPIs is the number of LPIs the default layout's property table
	// covers (INTIDs 8192..65535).
	MaxLPIs = 1<<16 - int(model.LPIBase)
)

// ParamError names a workload parameter whose value is not accepted, and
// says what is.
type ParamError struct {
	Param    string // parameter name as `itsbench list` shows it
	Value    string
	Accepted string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s %s: want %s", e.Param, e.Value, e.Accepted)
}

func (e *ParamError) Unwrap() error { return model.ErrInvalidArgument }

// Validate checks every field and returns an error joining a [*ParamError]
// for each parameter out of range.
func (w Workload) Validate() error {
	var errs []error
	bad := func(param string, v any, accepted string) {
		errs = append(errs, &ParamError{Param: param, Value: fmt.Sprint(v), Accepted: accepted})
	}
	if w.CPUs < 1 || w.CPUs > MaxCPUs {
		bad("cpus", w.CPUs, fmt.Sprintf("1..%d", MaxCPUs))
	}
	if w.Devices < 1 || w.Devices > MaxDevices {
		bad("devices", w.Devices, fmt.Sprintf("1..%d", MaxDevices))
	}
	if w.Events < 1 || w.Events > MaxEvents {
		bad("events", w.Events, fmt.Sprintf("1..%d", MaxEvents))
	}
	if n := w.Devices * w.Events; w.Devices >= 1 && w.Events >= 1 && n > MaxLPIs {
		bad("devices×events", n, fmt.Sprintf("at most %d LPIs (the default layout's INTIDs 8192..65535)", MaxLPIs))
	}
	if (w.Path == PathGSI || w.Path == PathIRQFD) && w.Devices*w.Events > model.MaxGSIRoutes {
		bad("devices×events", w.Devices*w.Events, fmt.Sprintf("at most %d with path %v (one GSI route per event)", model.MaxGSIRoutes, w.Path))
	}
	if w.Mapping < RoundRobin || w.Mapping > RandomMapping {
		bad("mapping", w.Mapping, strings.Join(mappings.names, ", "))
	}
	if w.Pattern < Sequential || w.Pattern > Bursts {
		bad("pattern", w.Pattern, strings.Join(patterns.names, ", "))
	}
	if w.Pattern == Zipf && !(w.ZipfS > 1) {
		bad("zipf", w.ZipfS, "an exponent above 1")
	}
	if w.Pattern == Bursts && w.BurstLen < 1 {
		bad("burst", w.BurstLen, "at least 1 injection per burst")
	}
	if w.Path < PathSignalMSI || w.Path > PathIRQFD {
		bad("path", w.Path, strings.Join(paths.names, ", "))
	}
	if (w.Churn == ChurnRemap || w.Churn == ChurnMAPD) && w.Path != PathSignalMSI {
		bad("churn", w.Churn, "none or movi with path "+w.Path.String()+" (remap and mapd block MSIs, which only path msi observes)")
	}
	if w.Injectors < 0 || w.Injectors > 1024 {
		bad("injectors", w.Injectors, "0 (one per device) or 1..1024")
	}
	if w.Injectors == 0 && w.Devices > 1024 {
		bad("injectors", w.Injectors, "1..1024 when there are more than 1024 devices (0 starts one per device)")
	}
	if w.Churn < ChurnNone || w.Churn > ChurnMAPD {
		bad("churn", w.Churn, strings.Join(churns.names, ", "))
	}
	if w.Churn != ChurnNone && !(w.ChurnRate > 0 && w.ChurnRate <= 1e6) {
		bad("churn-rate", w.ChurnRate, "a rate above 0 and at most 1e6 operations per second when churn is on")
	}
	set := 0
	for _, on := range []bool{w.Count != 0, w.Iterations != 0, w.Duration != 0} {
		if on {
			set++
		}
	}
	switch {
	case set != 1:
		bad("count/iterations/duration", fmt.Sprintf("%d/%d/%v", w.Count, w.Iterations, w.Duration), "exactly one of them set")
	case w.Count < 0 || w.Count > 1<<28:
		bad("count", w.Count, "1..2^28 injections per injector")
	case w.Iterations < 0 || int64(w.Iterations)*int64(w.perInjectorKeys()) > 1<<28:
		bad("iterations", w.Iterations, "1.. with iterations × events per injector at most 2^28")
	case w.Duration < 0 || w.Duration > time.Hour:
		bad("duration", w.Duration, "a duration up to 1h")
	}
	if w.Warmup < 0 || w.Warmup > 1<<24 {
		bad("warmup", w.Warmup, "0..2^24 injections per injector")
	}
	if w.Wait < WaitNone || w.Wait > WaitPark {
		bad("wait", w.Wait, strings.Join(waitModes.names, ", "))
	}
	if w.LatencyEvery < 1 || w.LatencyEvery > 1<<20 {
		bad("latency-every", w.LatencyEvery, "1..2^20 (1 times every injection call)")
	}
	return errors.Join(errs...)
}

// Setting is a value for one of [Params], as a command line gives it.
type Setting struct {
	Param Param
	Value string
}

// ErrSeveralLengths is [Workload.Configure]'s error when the settings give
// more than one of count, iterations and duration (setting one clears the
// other two, so the last would silently win).
var ErrSeveralLengths = errors.New("set only one of count, iterations and duration")

// InvalidWorkloadError is [Workload.Configure]'s error for a workload whose
// settings all parsed but which does not [Workload.Validate]. It names the
// workload and every parameter out of range, on one line.
type InvalidWorkloadError struct {
	Workload string
	Err      error // Validate's error: a [*ParamError] per parameter, joined
}

func (e *InvalidWorkloadError) Error() string {
	return fmt.Sprintf("workload %s: %s", e.Workload, strings.ReplaceAll(e.Err.Error(), "\n", "; "))
}

func (e *InvalidWorkloadError) Unwrap() error { return e.Err }

// Configure returns w with settings applied in order, and validated. The
// error is the [*ParamError] of the first value a parameter does not
// parse, [ErrSeveralLengths], or an [*InvalidWorkloadError], in that order
// of precedence.
func (w Workload) Configure(settings []Setting) (Workload, error) {
	lengths := 0
	for _, s := range settings {
		switch s.Param.Name {
		case "count", "iterations", "duration":
			lengths++
		}
		if err := s.Param.Set(&w, s.Value); err != nil {
			return w, err
		}
	}
	if lengths > 1 {
		return w, ErrSeveralLengths
	}
	if err := w.Validate(); err != nil {
		return w, &InvalidWorkloadError{Workload: w.Name, Err: err}
	}
	return w, nil
}

// Describe says in one line what w does.
func (w Workload) Describe() string {
	inj := fmt.Sprintf("%d injectors", w.injectors())
	switch {
	case w.Injectors == 0 && w.Devices == 1:
		inj = "1 injector (one per device)"
	case w.Injectors == 0:
		inj = fmt.Sprintf("%d injectors (one per device)", w.Devices)
	case w.Injectors == 1:
		inj = "1 injector"
	}
	var length string
	switch {
	case w.Duration > 0:
		length = fmt.Sprintf("for %v", w.Duration)
	case w.Iterations > 0:
		length = fmt.Sprintf("%d iterations (%d injections each)", w.Iterations, w.InjectionsPerInjector())
	default:
		length = fmt.Sprintf("%d injections each", w.Count)
	}
	if w.Warmup > 0 {
		length += fmt.Sprintf(" after %d warm-up", w.Warmup)
	}
	s := fmt.Sprintf("%s, %s × %s, mapping %v, pattern %v, path %v, %s, %s",
		count(w.CPUs, "CPU"), count(w.Devices, "device"), count(w.Events, "event"), w.Mapping, w.Pattern, w.Path, inj, length)
	if w.Churn != ChurnNone {
		s += fmt.Sprintf(", churn %v at %g/s", w.Churn, w.ChurnRate)
	}
	return s
}

// injectors returns the number of injecting goroutines.
func (w Workload) injectors() int {
	if w.Injectors == 0 {
		return w.Devices
	}
	return w.Injectors
}

// perInjectorKeys returns how many events each injector draws from.
func (w Workload) perInjectorKeys() int {
	if w.Injectors == 0 {
		return w.Events
	}
	return w.Devices * w.Events
}

// InjectionsPerInjector returns the measured injections each injector
// makes, or 0 for a run bounded by Duration.
func (w Workload) InjectionsPerInjector() int {
	switch {
	case w.Count > 0:
		return w.Count
	case w.Iterations > 0:
		return w.Iterations * w.perInjectorKeys()
	}
	return 0
}

func (w Workload) priorities() []uint8 {
	if len(w.Priorities) == 0 {
		return []uint8{0xa0}
	}
	return w.Priorities
}

// Param is one workload parameter as the command line sets it.
type Param struct {
	Name    string   // flag name, e.g. "devices"
	Aliases []string // short names, e.g. "d" (vgic_lpi_stress's flags)
	Usage   string   // what it is and what is accepted
	// Get formats the parameter's value in w; Set parses s into w.
	Get func(w *Workload) string
	Set func(w *Workload, s string) error
}

func intParam(name string, aliases []string, usage string, f func(*Workload) *int, after func(*Workload)) Param {
	return Param{Name: name, Aliases: aliases, Usage: usage,
		Get: func(w *Workload) string { return strconv.Itoa(*f(w)) },
		Set: func(w *Workload, s string) error {
			v, err := strconv.ParseInt(s, 0, 64)
			if err != nil || v < 0 || v > 1<<31 {
				return &ParamError{Param: name, Value: strconv.Quote(s), Accepted: "a non-negative integer"}
			}
			if after != nil {
				after(w)
			}
			*f(w) = int(v)
			return nil
		}}
}

func enumParam[T ~int](name string, e enum[T], usage string, f func(*Workload) *T) Param {
	return Param{Name: name, Usage: usage + " (" + strings.Join(e.names, ", ") + ")",
		Get: func(w *Workload) string { return e.str(*f(w)) },
		Set: func(w *Workload, s string) error {
			v, err := e.parse(s)
			if err != nil {
				return &ParamError{Param: name, Value: strconv.Quote(s), Accepted: "one of " + strings.Join(e.names, ", ")}
			}
			*f(w) = v
			return nil
		}}
}

func floatParam(name, usage string, f func(*Workload) *float64) Param {
	return Param{Name: name, Usage: usage,
		Get: func(w *Workload) string { return strconv.FormatFloat(*f(w), 'g', -1, 64) },
		Set: func(w *Workload, s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return &ParamError{Param: name, Value: strconv.Quote(s), Accepted: "a number"}
			}
			*f(w) = v
			return nil
		}}
}

// clearLength zeroes the three mutually exclusive length fields before one
// is set.
func clearLength(w *Workload) { w.Count, w.Iterations, w.Duration = 0, 0, 0 }

// Relevant reports whether parameter name matters for w: zipf only with
// pattern zipf, burst only with bursts, churn-rate only with churn, and of
// count, iterations and duration only the one set.
func (w Workload) Relevant(name string) bool {
	switch name {
	case "zipf":
		return w.Pattern == Zipf
	case "burst":
		return w.Pattern == Bursts
	case "churn-rate":
		return w.Churn != ChurnNone
	case "count":
		return w.Count != 0
	case "iterations":
		return w.Iterations != 0
	case "duration":
		return w.Duration != 0
	}
	return true
}

// Params returns the workload parameters in the order `itsbench list`
// shows them. Setting one of count, iterations and duration clears the
// other two.
func Params() []Param {
	return []Param{
		intParam("cpus", []string{"v"}, "CPUs (vCPUs), one collection each: 1..32", func(w *Workload) *int { return &w.CPUs }, nil),
		intParam("devices", []string{"d"}, "devices, DeviceIDs 0..N-1", func(w *Workload) *int { return &w.Devices }, nil),
		intParam("events", []string{"e"}, "events (MSI vectors) per device", func(w *Workload) *int { return &w.Events }, nil),
		enumParam("mapping", mappings, "how events map to collections and CPUs", func(w *Workload) *Mapping { return &w.Mapping }),
		{Name: "priorities", Usage: "LPI priorities assigned in turn, comma-separated (e.g. 0xa0 or 0x80,0xa0)",
			Get: func(w *Workload) string {
				var s []string
				for _, p := range w.priorities() {
					s = append(s, fmt.Sprintf("%#02x", p))
				}
				return strings.Join(s, ",")
			},
			Set: func(w *Workload, s string) error {
				var ps []uint8
				for f := range strings.SplitSeq(s, ",") {
					v, err := strconv.ParseUint(strings.TrimSpace(f), 0, 8)
					if err != nil {
						return &ParamError{Param: "priorities", Value: strconv.Quote(s), Accepted: "comma-separated priorities 0..255"}
					}
					ps = append(ps, uint8(v))
				}
				w.Priorities = ps
				return nil
			}},
		enumParam("pattern", patterns, "injection pattern", func(w *Workload) *Pattern { return &w.Pattern }),
		floatParam("zipf", "Zipf exponent for pattern zipf (> 1)", func(w *Workload) *float64 { return &w.ZipfS }),
		intParam("burst", nil, "injections per burst for pattern bursts", func(w *Workload) *int { return &w.BurstLen }, nil),
		enumParam("path", paths, "injection path", func(w *Workload) *Path { return &w.Path }),
		intParam("injectors", nil, "injecting goroutines; 0 = one per device, each on its own device", func(w *Workload) *int { return &w.Injectors }, nil),
		enumParam("churn", churns, "re-mapping while injecting", func(w *Workload) *Churn { return &w.Churn }),
		floatParam("churn-rate", "churn operations per second", func(w *Workload) *float64 { return &w.ChurnRate }),
		intParam("count", nil, "measured injections per injector", func(w *Workload) *int { return &w.Count }, clearLength),
		intParam("iterations", []string{"i"}, "passes over each injector's events (vgic_lpi_stress -i)", func(w *Workload) *int { return &w.Iterations }, clearLength),
		{Name: "duration", Usage: "measured time per run instead of a count (e.g. 2s)",
			Get: func(w *Workload) string { return w.Duration.String() },
			Set: func(w *Workload, s string) error {
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 {
					return &ParamError{Param: "duration", Value: strconv.Quote(s), Accepted: "a positive duration such as 500ms or 2s"}
				}
				clearLength(w)
				w.Duration = d
				return nil
			}},
		intParam("warmup", nil, "unmeasured injections per injector before the run", func(w *Workload) *int { return &w.Warmup }, nil),
		{Name: "seed", Usage: "seed of every random choice",
			Get: func(w *Workload) string { return strconv.FormatUint(w.Seed, 10) },
			Set: func(w *Workload, s string) error {
				v, err := strconv.ParseUint(s, 0, 64)
				if err != nil {
					return &ParamError{Param: "seed", Value: strconv.Quote(s), Accepted: "an unsigned integer"}
				}
				w.Seed = v
				return nil
			}},
		enumParam("wait", waitModes, "how each CPU's consumer waits for LPIs; none = no consumers, no end-to-end latency", func(w *Workload) *WaitMode { return &w.Wait }),
		intParam("latency-every", nil, "time one injection call in N", func(w *Workload) *int { return &w.LatencyEvery }, nil),
	}
}

var builtins = []Workload{
	{
		Name:        "steady",
		Description: "moderate steady load: a few devices' events spread over the CPUs, uniform random injections, CPUs parked when idle",
		CPUs:        2, Devices: 4, Events: 16, Pattern: Uniform, Injectors: 1,
		Count: 500_000, Warmup: 20_000, Seed: 1, Wait: WaitPark, LatencyEvery: 1,
	},
	{
		Name:        "storm",
		Description: "interrupt storm: many events fired in order, back to back",
		CPUs:        2, Devices: 1, Events: 1024, Pattern: Sequential, Injectors: 1,
		Count: 500_000, Warmup: 20_000, Seed: 1, Wait: WaitSpin, LatencyEvery: 1,
	},
	{
		Name:        "fanout",
		Description: "many devices with few events each, uniform random",
		CPUs:        2, Devices: 512, Events: 2, Pattern: Uniform, Injectors: 1,
		Count: 500_000, Warmup: 20_000, Seed: 1, Wait: WaitSpin, LatencyEvery: 1,
	},
	{
		Name:        "churn",
		Description: "steady load while a churn goroutine re-maps events",
		CPUs:        2, Devices: 4, Events: 16, Pattern: Uniform, Injectors: 1,
		Churn: ChurnMOVI, ChurnRate: 2000,
		Duration: 2 * time.Second, Warmup: 20_000, Seed: 1, Wait: WaitSpin, LatencyEvery: 1,
	},
	{
		Name:        "irqfd",
		Description: "steady load injected through GSI routes bound to irqfd triggers",
		CPUs:        2, Devices: 4, Events: 16, Pattern: Uniform, Injectors: 1, Path: PathIRQFD,
		Count: 500_000, Warmup: 20_000, Seed: 1, Wait: WaitSpin, LatencyEvery: 1,
	},
	{
		Name: "lpistress",
		Description: "Linux's selftest vgic_lpi_stress: -v vCPUs, -d devices, -e events per device, -i iterations; " +
			"events round-robin over vCPUs, one injecting goroutine per device signalling its events in order",
		CPUs: 1, Devices: 1, Events: 16, Iterations: 1000, Mapping: RoundRobin, Pattern: Sequential,
		Injectors: 0, Seed: 1, Wait: WaitSpin, LatencyEvery: 64,
	},
}

// DefaultWorkload is the workload itsbench runs with no arguments.
const DefaultWorkload = "steady"

// Builtins returns the built-in workloads, DefaultWorkload first.
func Builtins() []Workload {
	out := make([]Workload, len(builtins))
	for i, w := range builtins {
		w.Priorities = slices.Clone(w.Priorities)
		out[i] = w
	}
	return out
}

// BuiltinNames returns the names of the built-in workloads.
func BuiltinNames() []string {
	var names []string
	for _, w := range builtins {
		names = append(names, w.Name)
	}
	return names
}

// ErrUnknownWorkload is wrapped by [Lookup]'s error for a name that is not a
// built-in workload.
var ErrUnknownWorkload = errors.New("unknown workload")

// Lookup returns a copy of the built-in workload name, or an error listing
// the known ones.
func Lookup(name string) (Workload, error) {
	for _, w := range Builtins() {
		if w.Name == name {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownWorkload, name, strings.Join(BuiltinNames(), ", "))
}

// count returns n and the noun, plural unless n is 1: "1 CPU", "4 CPUs".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
