package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// tracing is the -trace destination of one command run. The run's env
// holds it: every subcommand's flag set has -trace (newFlagSet), which sets
// it; the backends the command opens are wrapped in inspect.Trace while it
// is set (env.traced); run closes it when the command ends (env.endTracing).
// Two runs, each with its own env, trace independently.
type tracing struct {
	log    *slog.Logger // nil: not tracing
	closer io.Closer    // the trace file, nil for stderr
}

// traceFlag is the -trace flag: FILE, or - for stderr.
type traceFlag struct {
	e    *env
	path string
}

func (f *traceFlag) String() string { return f.path }

// traceEventsFlag is -trace-events: which events -trace logs, as QEMU's
// -trace selects them: comma-separated glob patterns over the event names
// (inspect.TraceEvents), a leading '-' excluding what it matches, later
// patterns overriding earlier ones. Without it every event is logged.
type traceEventsFlag struct {
	e        *env
	patterns []string
}

func (f *traceEventsFlag) String() string { return strings.Join(f.patterns, ",") }

func (f *traceEventsFlag) Set(v string) error {
	var pats []string
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		glob := strings.TrimPrefix(p, "-")
		matched := false
		for _, ev := range inspect.TraceEvents {
			if ok, err := path.Match(glob, ev); err != nil {
				return fmt.Errorf("%q: %v", p, err)
			} else if ok {
				matched = true
			}
		}
		if !matched {
			return fmt.Errorf("%q matches no event (events: %s)", p, strings.Join(inspect.TraceEvents, ", "))
		}
		pats = append(pats, p)
	}
	f.patterns = pats
	f.e.traceEvents = pats
	return nil
}

// traceAllows reports whether the event msg passes patterns (see
// traceEventsFlag).
func traceAllows(patterns []string, msg string) bool {
	allowed := true
	for i, p := range patterns {
		glob, exclude := strings.CutPrefix(p, "-")
		if i == 0 && !exclude {
			allowed = false // an inclusion first: only what is named
		}
		if ok, _ := path.Match(glob, msg); ok {
			allowed = !exclude
		}
	}
	return allowed
}

// eventFilter drops the records whose event -trace-events does not select.
type eventFilter struct {
	slog.Handler
	e *env
}

func (h eventFilter) Handle(ctx context.Context, r slog.Record) error {
	if !traceAllows(h.e.traceEvents, r.Message) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h eventFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return eventFilter{h.Handler.WithAttrs(attrs), h.e}
}

func (h eventFilter) WithGroup(name string) slog.Handler {
	return eventFilter{h.Handler.WithGroup(name), h.e}
}

func (f *traceFlag) Set(path string) error {
	var w io.Writer
	var c io.Closer
	if path == "-" {
		w = f.e.stderr
	} else {
		file, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cannot open the trace file: %v", err)
		}
		w, c = file, file
	}
	f.path = path
	f.e.endTracing()
	f.e.tracing = tracing{log: newTraceLogger(w, f.e), closer: c}
	return nil
}

// newTraceLogger logs text records without timestamps, so that the traces
// of two runs (on the sim and on KVM, say) can be diffed: every event, or
// those e's -trace-events selects.
func newTraceLogger(w io.Writer, e *env) *slog.Logger {
	return slog.New(eventFilter{slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}), e})
}

// traced wraps b in inspect.Trace when -trace is set, and returns b itself
// when it is not.
func (e *env) traced(b model.Backend) model.Backend {
	return inspect.Trace(b, e.tracing.log)
}

// endTracing closes the trace file of the command that ran, if any.
func (e *env) endTracing() {
	if e.tracing.closer != nil {
		e.tracing.closer.Close()
	}
	e.tracing = tracing{}
}
