package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

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
	f.e.tracing = tracing{log: newTraceLogger(w), closer: c}
	return nil
}

// newTraceLogger logs text records without timestamps, so that the traces
// of two runs (on the sim and on KVM, say) can be diffed.
func newTraceLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
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
